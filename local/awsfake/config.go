package awsfake

import (
	"context"
	"fmt"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Static credentials the fake accepts (it checks that a request is signed, not the
// signature). They are not secrets.
const (
	TestAccessKeyID     = "AKIDAWSFAKEEXAMPLE"
	TestSecretAccessKey = "awsfake/secret/not-a-real-key"
)

// AWSConfig returns an aws.Config whose clients call the fake at endpointURL (an
// httptest.Server URL, say) in DefaultRegion with static test credentials and the SDK's
// standard retryer, so `sfn.NewFromConfig(cfg)` talks to the fake. It reads no
// environment or shared config files, so a developer's AWS profile cannot leak in.
// optFns adjust the config (region, retryer, HTTP client...).
func AWSConfig(ctx context.Context, endpointURL string, optFns ...func(*aws.Config)) (aws.Config, error) {
	u, err := url.Parse(endpointURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return aws.Config{}, fmt.Errorf("aws config for fake: endpoint %q must be an http(s) URL such as httptest.Server.URL", endpointURL)
	}
	cfg := aws.Config{
		Region:       DefaultRegion,
		Credentials:  aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(TestAccessKeyID, TestSecretAccessKey, "")),
		BaseEndpoint: aws.String(endpointURL),
		Retryer:      func() aws.Retryer { return retry.NewStandard() },
	}
	for _, fn := range optFns {
		fn(&cfg)
	}
	return cfg, nil
}

// AWSConfig is the package AWSConfig with this server's region.
func (s *Server) AWSConfig(ctx context.Context, endpointURL string, optFns ...func(*aws.Config)) (aws.Config, error) {
	return AWSConfig(ctx, endpointURL, append([]func(*aws.Config){func(c *aws.Config) { c.Region = s.region }}, optFns...)...)
}
