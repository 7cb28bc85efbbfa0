package bench

import (
	"fmt"
	"math"
)

// Price is one published unit price. USD is per single Unit (per state transition, per
// request, per vCPU-hour), so arithmetic never has to remember a "per 1,000".
type Price struct {
	USD    float64 `json:"usd"`
	Unit   string  `json:"unit"`
	Quoted string  `json:"quoted"` // as the source words it
	Source string  `json:"source"`
	// Date is when the source stated the price (or when it was read, if undated).
	Date string `json:"date"`
	Note string `json:"note,omitempty"`
}

// Prices are the us-east-1 list prices the cost model uses. None is invented: each
// names its source and date; where only a range exists (Fargate Spot), the model's
// assumption is stated in Note and is a flag.
type Prices struct {
	StateTransition   Price `json:"sfn_standard_state_transition"`
	LambdaRequest     Price `json:"lambda_request"`
	LambdaGBSecondARM Price `json:"lambda_arm64_gb_second"`
	KMSRequest        Price `json:"kms_request"`
	SecretsManagerAPI Price `json:"secretsmanager_api_call"`
	FargateVCPUHour   Price `json:"fargate_x86_vcpu_hour"`
	FargateGBHour     Price `json:"fargate_x86_gb_hour"`
	FargateARMVCPU    Price `json:"fargate_arm64_vcpu_hour"`
	FargateARMGB      Price `json:"fargate_arm64_gb_hour"`
	// SpotDiscount is the share Fargate Spot takes off the on-demand x86 price. AWS
	// publishes a live Spot price that moves with supply and demand; this is the
	// documented range's end the model assumes (SpotDiscountSource).
	SpotDiscount       float64 `json:"fargate_spot_discount"`
	SpotDiscountSource Price   `json:"fargate_spot_discount_source"`
}

// DefaultPrices are the prices as read on 2026-11-27 from the sources named. AWS
// pages that the search index held only through third parties say so.
func DefaultPrices() Prices {
	const read = "2026-11-27 (read)"
	return Prices{
		StateTransition: Price{USD: 0.025 / 1000, Unit: "state transition",
			Quoted: "$0.0250 per 1,000 state transitions (US East (N. Virginia))",
			Source: "https://aws.amazon.com/step-functions/pricing/", Date: read,
			Note: "retries count as transitions; 4,000 free per month not deducted"},
		LambdaRequest: Price{USD: 0.20 / 1e6, Unit: "request",
			Quoted: "$0.20 per 1M requests (x86 and Arm)",
			Source: "https://aws.amazon.com/lambda/pricing/ as tabulated by https://cloudchipr.com/blog/aws-lambda-pricing (2024) and git.mcrn.ar lambda_local_runner docs/lambdas-md/lambda-13-cost.md",
			Date:   "2024 (third-party copies; the AWS page's table was not in the index)",
			Note:   "free tier (1M requests/month) not deducted"},
		LambdaGBSecondARM: Price{USD: 0.0000133334, Unit: "GB-second (arm64)",
			Quoted: "Arm: $0.0000133334 per GB-second for the first 7.5 billion GB-seconds / month",
			Source: "https://cloudchipr.com/blog/aws-lambda-pricing (US East (N. Virginia), quoting https://aws.amazon.com/lambda/pricing/)",
			Date:   "2024 (third-party copy)",
			Note:   "the stack deploys arm64 functions; first pricing tier; free tier not deducted"},
		KMSRequest: Price{USD: 0.03 / 10000, Unit: "request",
			Quoted: "$0.03 per 10,000 requests (symmetric keys)",
			Source: "https://www.wring.co/blog/aws-kms-pricing-guide ; https://cloudburn.io/blog/aws-kms-pricing (March 2026, from https://aws.amazon.com/kms/pricing/)",
			Date:   "2026-03 (third-party copy)",
			Note:   "20,000 free requests/month and the $1/month key not counted"},
		SecretsManagerAPI: Price{USD: 0.05 / 10000, Unit: "API call",
			Quoted: "$0.40 per secret per month + $0.05 per 10k API calls",
			Source: "https://hivebook.wiki/wiki/aws-secrets-manager-rotated-secrets-dynamic-db-credentials-kms (quoting https://aws.amazon.com/secrets-manager/pricing/)",
			Date:   "2026 (third-party copy)",
			Note:   "the $0.40/month for the one secret is not per job"},
		FargateVCPUHour: Price{USD: 0.04048, Unit: "vCPU-hour (Linux/x86, on-demand)",
			Quoted: "x86 on-demand $0.04048 per vCPU per hour",
			Source: "https://fortem.dev/fargate-spot/ (us-east-1, Linux, verified June 2026 from https://aws.amazon.com/fargate/pricing/); same figure at https://www.vantage.sh/blog/fargate-pricing",
			Date:   "2026-06"},
		FargateGBHour: Price{USD: 0.004445, Unit: "GB-hour (Linux/x86, on-demand)",
			Quoted: "$0.004445 per GB per hour",
			Source: "https://www.vantage.sh/blog/fargate-pricing (us-east-1); https://awsi.click/en/articles/ecs-fargate-cost-architecture/",
			Date:   "2026 (third-party copy)"},
		FargateARMVCPU: Price{USD: 0.03238, Unit: "vCPU-hour (Linux/ARM, on-demand)",
			Quoted: "ARM on-demand $0.03238 per vCPU per hour",
			Source: "https://fortem.dev/fargate-spot/ (us-east-1, verified June 2026); https://www.vantage.sh/blog/fargate-pricing",
			Date:   "2026-06"},
		FargateARMGB: Price{USD: 0.00356, Unit: "GB-hour (Linux/ARM, on-demand)",
			Quoted: "ARM on-demand $0.003560 per GB per hour",
			Source: "https://fortem.dev/fargate-spot/ (us-east-1, verified June 2026)",
			Date:   "2026-06"},
		SpotDiscount: 0.70,
		SpotDiscountSource: Price{USD: 0, Unit: "share off on-demand",
			Quoted: "Fargate Spot: 50–70% off on-demand, variable, set by AWS supply and demand (\"up to 70%\")",
			Source: "https://fortem.dev/fargate-spot/ (June 2026, pointing at the live 'Current Spot price' table on https://aws.amazon.com/fargate/pricing/); a 2020 eu-west-1 reading was $0.01334053/vCPU-h (67% off): https://tomgregory.com/aws/aws-fargate-spot-vs-fargate-price-comparison/",
			Date:   "2026-06",
			Note:   "no live us-east-1 Spot price was available offline; the model assumes the 70% end (flag -spot-discount)"},
	}
}

// Validate rejects a price table that would make the report nonsense.
func (p Prices) Validate() error {
	for name, v := range map[string]float64{
		"state transition": p.StateTransition.USD, "lambda request": p.LambdaRequest.USD,
		"lambda GB-second": p.LambdaGBSecondARM.USD, "KMS request": p.KMSRequest.USD,
		"Secrets Manager call": p.SecretsManagerAPI.USD, "Fargate vCPU-hour": p.FargateVCPUHour.USD,
		"Fargate GB-hour": p.FargateGBHour.USD, "Fargate ARM vCPU-hour": p.FargateARMVCPU.USD,
		"Fargate ARM GB-hour": p.FargateARMGB.USD,
	} {
		if !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("price of a %s is %v; it must be a positive number of dollars", name, v)
		}
	}
	if p.SpotDiscount < 0 || p.SpotDiscount >= 1 {
		return fmt.Errorf("Fargate Spot discount %v must be in [0, 1)", p.SpotDiscount)
	}
	return nil
}

// Usage is what one job consumed of the control plane (averages over a burst).
type Usage struct {
	Transitions       float64 `json:"state_transitions"`
	LambdaInvocations float64 `json:"lambda_invocations"`
	LambdaGBSeconds   float64 `json:"lambda_gb_seconds"`
	KMSRequests       float64 `json:"kms_requests"`
	SecretsManager    float64 `json:"secretsmanager_calls"`
	GitHubCalls       float64 `json:"github_api_calls"`
}

// ControlPlaneCost is a job's control-plane bill, split by line.
type ControlPlaneCost struct {
	StepFunctions  float64 `json:"step_functions"`
	LambdaRequests float64 `json:"lambda_requests"`
	LambdaDuration float64 `json:"lambda_duration"`
	KMS            float64 `json:"kms"`
	SecretsManager float64 `json:"secretsmanager"`
	Total          float64 `json:"total"`
}

// Scale multiplies every line, e.g. by 1000 for "per 1,000 jobs".
func (c ControlPlaneCost) Scale(k float64) ControlPlaneCost {
	return ControlPlaneCost{c.StepFunctions * k, c.LambdaRequests * k, c.LambdaDuration * k, c.KMS * k, c.SecretsManager * k, c.Total * k}
}

// ControlPlane prices one job's usage. GitHub calls cost nothing.
func (p Prices) ControlPlane(u Usage) ControlPlaneCost {
	c := ControlPlaneCost{
		StepFunctions:  u.Transitions * p.StateTransition.USD,
		LambdaRequests: u.LambdaInvocations * p.LambdaRequest.USD,
		LambdaDuration: u.LambdaGBSeconds * p.LambdaGBSecondARM.USD,
		KMS:            u.KMSRequests * p.KMSRequest.USD,
		SecretsManager: u.SecretsManager * p.SecretsManagerAPI.USD,
	}
	c.Total = c.StepFunctions + c.LambdaRequests + c.LambdaDuration + c.KMS + c.SecretsManager
	return c
}

// Capacity is how a runner task is billed.
type Capacity string

// The three ways the fleet's classes run.
const (
	OnDemandX86 Capacity = "on-demand x86"
	SpotX86     Capacity = "Spot x86"
	OnDemandARM Capacity = "on-demand arm64"
)

// Capacities lists them in report order.
var Capacities = []Capacity{OnDemandX86, SpotX86, OnDemandARM}

// TaskSize is a runner task's Fargate size.
type TaskSize struct {
	VCPU float64 `json:"vcpu"`
	GB   float64 `json:"memory_gb"`
}

// FargateSecond is the price of one second of a task of size s on capacity c.
func (p Prices) FargateSecond(c Capacity, s TaskSize) (float64, error) {
	var perHour float64
	switch c {
	case OnDemandX86:
		perHour = s.VCPU*p.FargateVCPUHour.USD + s.GB*p.FargateGBHour.USD
	case SpotX86:
		perHour = (s.VCPU*p.FargateVCPUHour.USD + s.GB*p.FargateGBHour.USD) * (1 - p.SpotDiscount)
	case OnDemandARM:
		perHour = s.VCPU*p.FargateARMVCPU.USD + s.GB*p.FargateARMGB.USD
	default:
		return 0, fmt.Errorf("unknown capacity %q; use one of %v", c, Capacities)
	}
	return perHour / 3600, nil
}
