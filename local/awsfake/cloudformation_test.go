package awsfake

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"
)

func TestCloudFormationDescribeStacks(t *testing.T) {
	srv, cfg, _ := newTestFake(t, Options{})
	client := cloudformation.NewFromConfig(cfg)
	ctx := context.Background()
	id := srv.CloudFormation.SetStack("RunnerFleet", map[string]string{"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:RunnerFleet", "WebhookUrl": "https://x.lambda-url.us-east-1.on.aws/"})

	for _, name := range []string{"RunnerFleet", id} {
		out, err := client.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(out.Stacks) != 1 {
			t.Fatalf("%s: %d stacks", name, len(out.Stacks))
		}
		st := out.Stacks[0]
		if aws.ToString(st.StackName) != "RunnerFleet" || aws.ToString(st.StackId) != id || st.StackStatus != cfntypes.StackStatusCreateComplete || st.CreationTime == nil || len(st.Outputs) != 2 {
			t.Fatalf("%s = %+v", name, st)
		}
		if aws.ToString(st.Outputs[0].OutputKey) != "StateMachineArn" || aws.ToString(st.Outputs[1].OutputValue) != "https://x.lambda-url.us-east-1.on.aws/" {
			t.Errorf("outputs = %+v", st.Outputs)
		}
	}

	_, err := client.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("Missing")})
	wantAPIError[smithy.APIError](t, err, "ValidationError", "Stack with id Missing does not exist")

	srv.CloudFormation.DeleteStack("RunnerFleet")
	_, err = client.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("RunnerFleet")})
	wantAPIError[smithy.APIError](t, err, "ValidationError", "Stack with id RunnerFleet does not exist")
	out, err := client.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(id)})
	if err != nil || out.Stacks[0].StackStatus != cfntypes.StackStatusDeleteComplete {
		t.Errorf("deleted stack by id = %v %+v", err, out)
	}
}

func TestCloudFormationWireForm(t *testing.T) {
	srv, _, url := newTestFake(t, Options{})
	srv.CloudFormation.SetStack("S", nil)
	post := func(body string, signed bool) (int, string, string) {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if signed {
			req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(data)
	}
	status, ct, body := post("Action=DescribeStacks&Version=2010-05-15&StackName=Nope", true)
	if status != 400 || ct != "text/xml" || !strings.Contains(body, "<Type>Sender</Type>\n<Code>ValidationError</Code>\n<Message>Stack with id Nope does not exist</Message>") {
		t.Errorf("missing stack = %d %q\n%s", status, ct, body)
	}
	status, _, body = post("Action=DescribeStacks&Version=2010-05-15&StackName=S", true)
	if status != 200 || !strings.Contains(body, "<DescribeStacksResult><Stacks><member><StackName>S</StackName>") {
		t.Errorf("stack = %d\n%s", status, body)
	}
	status, _, body = post("Action=CreateStack&Version=2010-05-15", true)
	if status != 400 || !strings.Contains(body, "<Code>InvalidAction</Code>") {
		t.Errorf("unknown action = %d\n%s", status, body)
	}
	status, _, body = post("Action=DescribeStacks&Version=2010-05-15", false)
	if status != 403 || !strings.Contains(body, "<Code>MissingAuthenticationToken</Code>") {
		t.Errorf("unsigned = %d\n%s", status, body)
	}
	if err := srv.SetFault("cloudformation", "DescribeStacks", Fault{ThrottleRatio: 1}); err != nil {
		t.Fatal(err)
	}
	status, _, body = post("Action=DescribeStacks&Version=2010-05-15", true)
	if status != 400 || !strings.Contains(body, "<Code>Throttling</Code>") {
		t.Errorf("throttled = %d\n%s", status, body)
	}
}
