package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// network is where runner tasks start: the VPC, the subnets and an egress-only
// security group. Runners only dial out (GitHub, ECR, KMS, CloudWatch Logs).
type network struct {
	vpc           awsec2.IVpc
	subnetIDs     []*string
	securityGroup awsec2.SecurityGroup
	publicIP      bool
}

func newNetwork(scope constructs.Construct, cfg Config) *network {
	n := &network{publicIP: cfg.PublicIP()}
	if cfg.VpcID != "" {
		// Imported by id, so synth needs no AWS lookup. Only the VPC id and the subnet ids
		// are used (security group, cluster, RunTask network configuration).
		n.vpc = awsec2.Vpc_FromVpcAttributes(scope, jsii.String("Vpc"), &awsec2.VpcAttributes{
			VpcId:             jsii.String(cfg.VpcID),
			AvailabilityZones: awscdk.Fn_GetAzs(nil),
		})
		// The list token is fine here: nothing selects subnets from the imported VPC.
		awscdk.Annotations_Of(n.vpc).AcknowledgeWarning(
			jsii.String("@aws-cdk/aws-ec2:vpcAttributeIsListTokenavailabilityZones"),
			jsii.String("subnets come from subnetIds, never from the imported VPC's availability zones"))
		for _, s := range cfg.SubnetIDs {
			n.subnetIDs = append(n.subnetIDs, jsii.String(s))
		}
	} else {
		n.vpc, n.subnetIDs = newVpc(scope, cfg)
	}
	n.securityGroup = awsec2.NewSecurityGroup(scope, jsii.String("RunnerSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              n.vpc,
		Description:      jsii.String("Runner Fleet runner tasks: egress only, nothing may connect in"),
		AllowAllOutbound: jsii.Bool(true),
	})
	return n
}

// newVpc creates a small VPC. By default runners sit in public subnets with a public IP,
// which avoids paying for NAT; privateSubnets puts them behind NAT gateways instead.
func newVpc(scope constructs.Construct, cfg Config) (awsec2.IVpc, []*string) {
	subnets := []*awsec2.SubnetConfiguration{{
		Name:                jsii.String("Public"),
		SubnetType:          awsec2.SubnetType_PUBLIC,
		CidrMask:            jsii.Number(22),
		MapPublicIpOnLaunch: jsii.Bool(!cfg.PrivateSubnets),
	}}
	nat := 0
	runnerSubnets := awsec2.SubnetType_PUBLIC
	if cfg.PrivateSubnets {
		subnets = append(subnets, &awsec2.SubnetConfiguration{
			Name:       jsii.String("Runners"),
			SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS,
			CidrMask:   jsii.Number(20),
		})
		nat = cfg.NatGateways
		runnerSubnets = awsec2.SubnetType_PRIVATE_WITH_EGRESS
	}
	props := &awsec2.VpcProps{
		MaxAzs:              jsii.Number(float64(cfg.MaxAzs)),
		NatGateways:         jsii.Number(float64(nat)),
		SubnetConfiguration: &subnets,
		// Flow logs of rejected traffic only: enough to debug a runner that cannot reach
		// GitHub, cheap enough to leave on.
		FlowLogs: &map[string]*awsec2.FlowLogOptions{
			"Rejected": {
				TrafficType: awsec2.FlowLogTrafficType_REJECT,
				Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(
					awslogs.NewLogGroup(scope, jsii.String("VpcFlowLogs"), &awslogs.LogGroupProps{
						Retention:     retention(cfg),
						RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
					}), nil),
			},
		},
		// Nothing uses the default security group; restricting it would deploy a custom
		// resource Lambda (Node.js) for no benefit.
		RestrictDefaultSecurityGroup: jsii.Bool(false),
	}
	if cfg.VpcCidr != "" {
		props.IpAddresses = awsec2.IpAddresses_Cidr(jsii.String(cfg.VpcCidr))
	}
	vpc := awsec2.NewVpc(scope, jsii.String("Vpc"), props)
	sel := vpc.SelectSubnets(&awsec2.SubnetSelection{SubnetType: runnerSubnets})
	return vpc, *sel.SubnetIds
}

// retention is the configured log retention as CDK's enum.
func retention(cfg Config) awslogs.RetentionDays {
	return retentionDays[cfg.LogRetentionDays]
}
