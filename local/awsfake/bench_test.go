package awsfake

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// The fake's own cost per call through the real SDK client (signing, HTTP on loopback,
// decoding), so benchmark runs can tell the fake's overhead from the fleet's.
func benchClients(b *testing.B) (*Server, aws.Config) {
	b.Helper()
	srv := New(Options{})
	hs := httptest.NewServer(srv)
	b.Cleanup(hs.Close)
	cfg, err := srv.AWSConfig(context.Background(), hs.URL, func(c *aws.Config) {
		c.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
	})
	if err != nil {
		b.Fatal(err)
	}
	return srv, cfg
}

func BenchmarkStartExecution(b *testing.B) {
	srv, cfg := benchClients(b)
	smARN, _ := srv.SFN.RegisterStateMachine("RunnerFleet", `{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}`, "")
	client := sfn.NewFromConfig(cfg)
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			name := fmt.Sprintf("job-%d", n.Add(1))
			if _, err := client.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String(smARN), Name: aws.String(name), Input: aws.String(`{"job_id":1}`)}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRunTaskThenDescribe(b *testing.B) {
	srv, cfg := benchClients(b)
	srv.ECS.CreateCluster("fleet")
	client := ecs.NewFromConfig(cfg)
	ctx := context.Background()
	if _, err := client.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("runner"), Cpu: aws.String("1024"), Memory: aws.String("2048"), NetworkMode: ecstypes.NetworkModeAwsvpc,
		RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate},
		ContainerDefinitions:    []ecstypes.ContainerDefinition{{Name: aws.String("runner"), Image: aws.String("img")}},
	}); err != nil {
		b.Fatal(err)
	}
	network := &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			out, err := client.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("fleet"), TaskDefinition: aws.String("runner"), LaunchType: ecstypes.LaunchTypeFargate, NetworkConfiguration: network})
			if err != nil || len(out.Tasks) != 1 {
				b.Fatal(err, out)
			}
			if _, err := client.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("fleet"), Tasks: []string{aws.ToString(out.Tasks[0].TaskArn)}}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
