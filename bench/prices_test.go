package bench

import (
	"math"
	"strings"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12+1e-9*math.Abs(b) }

func TestControlPlane(t *testing.T) {
	p := DefaultPrices()
	tests := []struct {
		name string
		u    Usage
		want ControlPlaneCost
	}{
		{name: "nothing", u: Usage{}, want: ControlPlaneCost{}},
		{name: "ten transitions", u: Usage{Transitions: 10}, want: ControlPlaneCost{StepFunctions: 0.00025, Total: 0.00025}},
		{name: "a million requests and GB-seconds", u: Usage{LambdaInvocations: 1e6, LambdaGBSeconds: 1e6},
			want: ControlPlaneCost{LambdaRequests: 0.20, LambdaDuration: 13.3334, Total: 13.5334}},
		{name: "ten thousand KMS and Secrets Manager calls", u: Usage{KMSRequests: 1e4, SecretsManager: 1e4, GitHubCalls: 1e6},
			want: ControlPlaneCost{KMS: 0.03, SecretsManager: 0.05, Total: 0.08}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := p.ControlPlane(tc.u)
			for _, f := range []struct {
				name      string
				got, want float64
			}{
				{"step functions", got.StepFunctions, tc.want.StepFunctions}, {"lambda requests", got.LambdaRequests, tc.want.LambdaRequests},
				{"lambda duration", got.LambdaDuration, tc.want.LambdaDuration}, {"kms", got.KMS, tc.want.KMS},
				{"secrets manager", got.SecretsManager, tc.want.SecretsManager}, {"total", got.Total, tc.want.Total},
			} {
				if !near(f.got, f.want) {
					t.Errorf("ControlPlane(%+v).%s = %v, want %v", tc.u, f.name, f.got, f.want)
				}
			}
			if k := got.Scale(1000); !near(k.Total, 1000*got.Total) {
				t.Errorf("Scale(1000).Total = %v, want %v", k.Total, 1000*got.Total)
			}
		})
	}
}

func TestFargateSecond(t *testing.T) {
	p := DefaultPrices()
	medium := TaskSize{VCPU: 2, GB: 4}
	tests := []struct {
		capy Capacity
		want float64 // dollars per hour
	}{
		{OnDemandX86, 2*0.04048 + 4*0.004445},
		{SpotX86, (2*0.04048 + 4*0.004445) * 0.30},
		{OnDemandARM, 2*0.03238 + 4*0.00356},
	}
	for _, tc := range tests {
		t.Run(string(tc.capy), func(t *testing.T) {
			got, err := p.FargateSecond(tc.capy, medium)
			if err != nil {
				t.Fatal(err)
			}
			if !near(got*3600, tc.want) {
				t.Errorf("FargateSecond(%s, medium) × 3600 = %v, want %v", tc.capy, got*3600, tc.want)
			}
		})
	}
	if _, err := p.FargateSecond("windows", medium); err == nil || !strings.Contains(err.Error(), "unknown capacity") {
		t.Errorf("FargateSecond(windows) error = %v, want unknown capacity", err)
	}
}

func TestPricesValidate(t *testing.T) {
	if err := DefaultPrices().Validate(); err != nil {
		t.Fatalf("default prices: %v", err)
	}
	for name, mutate := range map[string]func(*Prices){
		"zero transition price": func(p *Prices) { p.StateTransition.USD = 0 },
		"negative KMS price":    func(p *Prices) { p.KMSRequest.USD = -1 },
		"NaN Fargate price":     func(p *Prices) { p.FargateGBHour.USD = math.NaN() },
		"Spot free":             func(p *Prices) { p.SpotDiscount = 1 },
	} {
		t.Run(name, func(t *testing.T) {
			p := DefaultPrices()
			mutate(&p)
			if err := p.Validate(); err == nil {
				t.Errorf("Validate() accepted %s", name)
			}
		})
	}
	// Every price names a source and a date: the report must never print an unsourced number.
	p := DefaultPrices()
	for _, x := range []Price{p.StateTransition, p.LambdaRequest, p.LambdaGBSecondARM, p.KMSRequest, p.SecretsManagerAPI,
		p.FargateVCPUHour, p.FargateGBHour, p.FargateARMVCPU, p.FargateARMGB, p.SpotDiscountSource} {
		if !strings.Contains(x.Source, "https://") || x.Date == "" || x.Quoted == "" {
			t.Errorf("price %q lacks a source URL, date or quotation: %+v", x.Unit, x)
		}
	}
}
