// Package awsfake is a protocol-faithful fake of the AWS services Runner Fleet calls:
// Step Functions, Secrets Manager, KMS, ECS, SSM, ECR, CodeBuild and CloudFormation.
//
// One [Server] answers every service on one endpoint, so the real aws-sdk-go-v2 clients
// can be pointed at it (BaseEndpoint, or AWS_ENDPOINT_URL) from unit tests and from
// fleet-local. awsJson 1.0/1.1 requests are dispatched on X-Amz-Target; CloudFormation's
// awsQuery form POSTs on their Action field. Answers follow the recordings and documents
// in shared/fixtures/aws: status codes, __type/message error bodies (with the member
// casing each service uses), epoch-second timestamps and content types, so the SDK
// decodes them into its typed errors exactly as it would against AWS.
//
// The fake enforces the hard limits the fleet must live with (KMS Encrypt plaintext of
// 4 KiB, ECS container overrides of 8 KiB, execution names of 80 characters, tag values
// of 256, startedBy of 36) so code that would fail in AWS fails in tests too.
//
// Long-running resources (Step Functions executions, ECS tasks, CodeBuild builds) do not
// move on their own: the owner of the Server drives them through hooks and methods
// ([SFN.OnStart], [SFN.Finish], [ECS.OnTaskStarted], [ECS.SetTaskRunning], ...), so a
// Step Functions engine, simulated runners or a test decide what happens and when.
//
// Fault injection ([Server.SetFault]) throttles or fails chosen operations, and
// [Server.Calls] counts the calls each operation received.
package awsfake
