package awsfake

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
)

func TestSSMParameters(t *testing.T) {
	srv, cfg, url := newTestFake(t, Options{})
	client := ssm.NewFromConfig(cfg)
	ctx := context.Background()
	srv.SSM.Put("/runner-fleet/classes", `{"small":{"cpu":1024,"memory":2048}}`)

	tests := []struct {
		name, value string
		version     int64
	}{
		{"/runner-fleet/classes", `{"small":{"cpu":1024,"memory":2048}}`, 1},
		{"arn:aws:ssm:us-east-1:123456789012:parameter/runner-fleet/classes", `{"small":{"cpu":1024,"memory":2048}}`, 1},
	}
	for _, tc := range tests {
		out, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(tc.name), WithDecryption: aws.Bool(true)})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		p := out.Parameter
		if aws.ToString(p.Value) != tc.value || p.Version != tc.version || p.Type != ssmtypes.ParameterTypeString || aws.ToString(p.DataType) != "text" ||
			aws.ToString(p.ARN) != "arn:aws:ssm:us-east-1:123456789012:parameter/runner-fleet/classes" || p.LastModifiedDate == nil {
			t.Errorf("%s = %+v", tc.name, p)
		}
	}

	_, err := client.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/runner-fleet/classes"), Value: aws.String("{}"), Type: ssmtypes.ParameterTypeString})
	wantAPIError[*ssmtypes.ParameterAlreadyExists](t, err, "ParameterAlreadyExists", "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.")
	put, err := client.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/runner-fleet/classes"), Value: aws.String("{}"), Overwrite: aws.Bool(true)})
	if err != nil || put.Version != 2 || put.Tier != ssmtypes.ParameterTierStandard {
		t.Fatalf("overwrite = %v %+v", err, put)
	}
	latest, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/runner-fleet/classes")})
	if err != nil || aws.ToString(latest.Parameter.Value) != "{}" || latest.Parameter.Version != 2 {
		t.Fatalf("latest = %v %+v", err, latest)
	}
	first, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/runner-fleet/classes:1")})
	if err != nil || first.Parameter.Version != 1 || aws.ToString(first.Parameter.Selector) != ":1" {
		t.Fatalf("version selector = %v %+v", err, first)
	}

	_, err = client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/nope")})
	wantAPIError[*ssmtypes.ParameterNotFound](t, err, "ParameterNotFound", "")
	_, err = client.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/new"), Value: aws.String("v")})
	wantAPIError[smithy.APIError](t, err, "ValidationException", "1 validation error detected: A parameter type is required when you create a parameter.")
	_, err = client.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/big"), Value: aws.String(strings.Repeat("x", 4097)), Type: ssmtypes.ParameterTypeString})
	wantAPIError[smithy.APIError](t, err, "ValidationException", "")

	status, _, body := rawCall(t, url, "AmazonSSM.GetParameter", "application/x-amz-json-1.1", `{"Name":"/nope"}`, true)
	if status != 400 || body["__type"] != "ParameterNotFound" {
		t.Errorf("wire ParameterNotFound = %d %v", status, body)
	}
}

func TestECRImages(t *testing.T) {
	srv, cfg, _ := newTestFake(t, Options{})
	client := ecr.NewFromConfig(cfg)
	ctx := context.Background()
	old := srv.ECR.PushImage("runner-fleet/images", "ubuntu-24.04", 1000)
	digest := srv.ECR.PushImage("runner-fleet/images", "ubuntu-24.04", 2000)
	if old == digest || !strings.HasPrefix(digest, "sha256:") || len(digest) != len("sha256:")+64 {
		t.Fatalf("digests %q %q", old, digest)
	}
	if got := srv.ECR.ImageURI("runner-fleet/images", "ubuntu-24.04"); got != "123456789012.dkr.ecr.us-east-1.amazonaws.com/runner-fleet/images:ubuntu-24.04" {
		t.Errorf("ImageURI = %q", got)
	}
	if got := srv.ECR.RepositoryURI("runner-fleet/images"); got != "123456789012.dkr.ecr.us-east-1.amazonaws.com/runner-fleet/images" {
		t.Errorf("RepositoryURI = %q", got)
	}

	out, err := client.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("runner-fleet/images"), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("ubuntu-24.04")}}})
	if err != nil {
		t.Fatal(err)
	}
	d := out.ImageDetails[0]
	if aws.ToString(d.ImageDigest) != digest || aws.ToInt64(d.ImageSizeInBytes) != 2000 || d.ImagePushedAt == nil || len(d.ImageTags) != 1 {
		t.Errorf("DescribeImages = %+v (the push must have moved the tag to the new image)", d)
	}
	all, err := client.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("runner-fleet/images")})
	if err != nil || len(all.ImageDetails) != 2 || len(all.ImageDetails[0].ImageTags) != 0 {
		t.Errorf("all images = %v %+v", err, all)
	}

	_, err = client.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("runner-fleet/images"), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("debian-12")}}})
	wantAPIError[*ecrtypes.ImageNotFoundException](t, err, "ImageNotFoundException",
		"The image with imageId {imageDigest:null, imageTag:'debian-12'} does not exist within the repository with name 'runner-fleet/images' in the registry with id '123456789012'")
	_, err = client.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("nope")})
	wantAPIError[*ecrtypes.RepositoryNotFoundException](t, err, "RepositoryNotFoundException", "The repository with name 'nope' does not exist in the registry with id '123456789012'")

	batch, err := client.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("runner-fleet/images"), ImageIds: []ecrtypes.ImageIdentifier{
		{ImageTag: aws.String("ubuntu-24.04")}, {ImageTag: aws.String("missing")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(batch.Images) != 1 || aws.ToString(batch.Images[0].ImageId.ImageDigest) != digest || !strings.Contains(aws.ToString(batch.Images[0].ImageManifest), `"schemaVersion":2`) {
		t.Errorf("images = %+v", batch.Images)
	}
	if len(batch.Failures) != 1 || batch.Failures[0].FailureCode != ecrtypes.ImageFailureCodeImageNotFound || aws.ToString(batch.Failures[0].ImageId.ImageTag) != "missing" {
		t.Errorf("failures = %+v", batch.Failures)
	}
}
