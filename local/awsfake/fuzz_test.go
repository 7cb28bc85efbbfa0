package awsfake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzServeHTTP feeds arbitrary bodies to every emulated operation. Whatever a client
// sends, the fake must answer with a well-formed AWS answer: no panic, never a 500 of
// its own making, and a JSON body for the JSON protocols.
func FuzzServeHTTP(f *testing.F) {
	srv := New(Options{})
	smARN, _ := srv.SFN.RegisterStateMachine("RunnerFleet", `{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}`, "")
	srv.SecretsManager.Put("fleet", "v")
	srv.KMS.CreateKey("k", "alias/k")
	srv.ECS.CreateCluster("default")
	srv.SSM.Put("/classes", "{}")
	srv.ECR.PushImage("repo", "tag", 1)
	srv.CodeBuild.CreateProject("p", "img")
	srv.CloudFormation.SetStack("S", map[string]string{"K": "V"})

	seeds := map[string]string{
		"AWSStepFunctions.StartExecution":                           `{"stateMachineArn":"` + smARN + `","name":"n","input":"{}"}`,
		"AWSStepFunctions.DescribeExecution":                        `{"executionArn":"arn:aws:states:us-east-1:123456789012:execution:RunnerFleet:n"}`,
		"AWSStepFunctions.ListExecutions":                           `{"stateMachineArn":"` + smARN + `","statusFilter":"RUNNING","maxResults":1,"nextToken":"x.1"}`,
		"AWSStepFunctions.StopExecution":                            `{"executionArn":"arn:aws:states:us-east-1:123456789012:execution:RunnerFleet:n","error":"E"}`,
		"AWSStepFunctions.GetExecutionHistory":                      `{"executionArn":"arn:aws:states:us-east-1:123456789012:execution:RunnerFleet:n","reverseOrder":true}`,
		"secretsmanager.GetSecretValue":                             `{"SecretId":"fleet","VersionStage":"AWSPREVIOUS"}`,
		"secretsmanager.PutSecretValue":                             `{"SecretId":"fleet","SecretString":"x"}`,
		"TrentService.Encrypt":                                      `{"KeyId":"alias/k","Plaintext":"aGVsbG8=","EncryptionContext":{"a":"b"}}`,
		"TrentService.Decrypt":                                      `{"CiphertextBlob":"ASRhYmNkZWZnaC1hYmNkLTRlZmctOGhpai1rbG1ub3BxcnN0dXYAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`,
		"TrentService.GenerateDataKey":                              `{"KeyId":"alias/k","NumberOfBytes":16}`,
		"AmazonEC2ContainerServiceV20141113.RunTask":                `{"taskDefinition":"x","launchType":"FARGATE","overrides":{"containerOverrides":[{"name":"c"}]}}`,
		"AmazonEC2ContainerServiceV20141113.DescribeTasks":          `{"tasks":["a"],"include":["TAGS"]}`,
		"AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition": `{"family":"f","cpu":"256","memory":"512","networkMode":"awsvpc","requiresCompatibilities":["FARGATE"],"containerDefinitions":[{"name":"c","image":"i"}]}`,
		"AmazonEC2ContainerServiceV20141113.ListTasks":              `{"maxResults":1,"nextToken":"zz"}`,
		"AmazonSSM.GetParameter":                                    `{"Name":"/classes:1"}`,
		"AmazonSSM.PutParameter":                                    `{"Name":"/classes","Value":"x","Overwrite":true}`,
		"AmazonEC2ContainerRegistry_V20150921.DescribeImages":       `{"repositoryName":"repo","imageIds":[{"imageTag":"tag"}]}`,
		"AmazonEC2ContainerRegistry_V20150921.BatchGetImage":        `{"repositoryName":"repo","imageIds":[{"imageDigest":"sha256:00","imageTag":"tag"}]}`,
		"CodeBuild_20161006.StartBuild":                             `{"projectName":"p","environmentVariablesOverride":[{"name":"A","value":"B"}]}`,
		"CodeBuild_20161006.BatchGetBuilds":                         `{"ids":["p:x"]}`,
		"CodeBuild_20161006.ListBuildsForProject":                   `{"projectName":"p","sortOrder":"ASCENDING"}`,
		"form:DescribeStacks":                                       "Action=DescribeStacks&Version=2010-05-15&StackName=S",
	}
	for target, body := range seeds {
		f.Add(target, body)
	}
	f.Fuzz(func(t *testing.T, target, body string) {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x")
		form := strings.HasPrefix(target, "form:")
		if form {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req.Header.Set("X-Amz-Target", target)
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q answered %d: %s", target, body, rec.Code, rec.Body.String())
		}
		if !form && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %q answered a body that is not JSON: %q", target, body, rec.Body.String())
		}
	})
}
