package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// metricsNamespace is where the functions publish their EMF metrics.
const metricsNamespace = "RunnerFleet"

// observability is the operator's dashboard and the alarms on failures and throttles.
type observability struct {
	dashboard awscloudwatch.Dashboard
	alarms    []awscloudwatch.Alarm
	topic     awssns.ITopic
}

func newObservability(scope constructs.Construct, cfg Config, wf *workflow, in *ingress, img *images) *observability {
	o := &observability{}
	stack := awscdk.Stack_Of(scope)
	five := awscdk.Duration_Minutes(jsii.Number(5))
	sum := &awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: five}
	// search graphs one line per value of the dimensions in schema (EMF metrics from the
	// functions: webhook JobStartLatency [Class] and [Class, Image] in ms, WebhookAnswers
	// [Status]; reapifidle IdleReaps [Class]).
	search := func(label, schema, metric, stat string) awscloudwatch.IMetric {
		return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String(fmt.Sprintf(`SEARCH('{%s} MetricName="%s"', '%s', 300)`, schema, metric, stat)),
			Label:      jsii.String(label),
			Period:     five,
		})
	}
	// emf is a metric published without dimensions (the janitor's counts).
	emf := func(label, metric string) awscloudwatch.IMetric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(metricsNamespace), MetricName: jsii.String(metric),
			Statistic: jsii.String("Sum"), Period: five, Label: jsii.String(label),
		})
	}
	byClass := metricsNamespace + ",Class"
	functions := []*function{in.webhook, wf.resolveImage, wf.requestRunner, wf.reapIfIdle, wf.cleanup, wf.janitor}
	var errs, throttles []awscloudwatch.IMetric
	for _, f := range functions {
		errs = append(errs, f.fn.MetricErrors(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: five, Label: jsii.String(f.name)}))
		throttles = append(throttles, f.fn.MetricThrottles(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: five, Label: jsii.String(f.name)}))
	}
	machine := func(label string, m awscloudwatch.Metric) awscloudwatch.IMetric {
		return m.With(&awscloudwatch.MetricOptions{Label: jsii.String(label), Statistic: jsii.String("Sum"), Period: five})
	}
	graph := func(title string, left []awscloudwatch.IMetric, width float64) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(title), Left: &left, Width: jsii.Number(width), Height: jsii.Number(6),
		})
	}
	o.dashboard = awscloudwatch.NewDashboard(scope, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName:   stack.StackName(),
		DefaultInterval: awscdk.Duration_Hours(jsii.Number(3)),
	})
	o.dashboard.AddWidgets(
		graph("Queued to job start (ms), p50 by class", []awscloudwatch.IMetric{search("p50", byClass, "JobStartLatency", "p50")}, 12),
		graph("Queued to job start (ms), p90 by class", []awscloudwatch.IMetric{search("p90", byClass, "JobStartLatency", "p90")}, 12),
	)
	o.dashboard.AddWidgets(
		graph("Runner executions", []awscloudwatch.IMetric{
			machine("started", wf.runnerFleet.MetricStarted(nil)),
			machine("succeeded", wf.runnerFleet.MetricSucceeded(nil)),
			machine("failed", wf.runnerFleet.MetricFailed(nil)),
			machine("timed out", wf.runnerFleet.MetricTimedOut(nil)),
		}, 12),
		graph("Idle runners reaped, by class", []awscloudwatch.IMetric{search("reaped", byClass, "IdleReaps", "Sum")}, 6),
		graph("Webhook answers by status", []awscloudwatch.IMetric{search("answers", metricsNamespace+",Status", "WebhookAnswers", "Sum")}, 6),
	)
	o.dashboard.AddWidgets(
		graph("Image builds", []awscloudwatch.IMetric{
			img.project.MetricBuilds(sum), img.project.MetricSucceededBuilds(sum), img.project.MetricFailedBuilds(sum),
			machine("build executions failed", wf.imageBuild.MetricFailed(nil)),
			machine("build executions timed out", wf.imageBuild.MetricTimedOut(nil)),
		}, 8),
		graph("Lambda errors", errs, 8),
		graph("Lambda throttles", throttles, 8),
	)
	o.dashboard.AddWidgets(
		graph("Janitor", []awscloudwatch.IMetric{
			emf("orphan tasks stopped", "JanitorTasksStopped"),
			emf("offline registrations deleted", "JanitorRegistrationsDeleted"),
			emf("errors", "JanitorErrors"),
		}, 12),
	)

	alarm := func(id, description string, m awscloudwatch.IMetric, threshold float64, periods float64) {
		a := awscloudwatch.NewAlarm(scope, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(description),
			Metric:             m,
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(periods),
			DatapointsToAlarm:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		o.alarms = append(o.alarms, a)
	}
	alarm("RunnerExecutionsFailedAlarm", "RunnerFleet executions failed or timed out: open the StateMachineConsoleUrl output and read the failed executions' errors (docs/contract.md names each)",
		awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression:   jsii.String("failed + timedout"),
			UsingMetrics: &map[string]awscloudwatch.IMetric{"failed": wf.runnerFleet.MetricFailed(sum), "timedout": wf.runnerFleet.MetricTimedOut(sum)},
			Label:        jsii.String("failed or timed out"),
			Period:       five,
		}), 3, 3)
	alarm("ImageBuildsFailedAlarm", "Runner image builds failed: the failed build's log is linked from the ImageBuildFailed cause",
		wf.imageBuild.MetricFailed(sum), 1, 1)
	alarm("ExecutionsThrottledAlarm", "Step Functions throttled the fleet's state machines: jobs wait; raise the StartExecution or state transition quota",
		awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression:   jsii.String("fleet + builds"),
			UsingMetrics: &map[string]awscloudwatch.IMetric{"fleet": wf.runnerFleet.MetricThrottled(sum), "builds": wf.imageBuild.MetricThrottled(sum)},
			Label:        jsii.String("throttled"),
			Period:       five,
		}), 1, 1)
	alarm("JanitorCleanupErrorsAlarm", "The janitor could not clean something up (a task or a registration); its log group says which",
		emf("errors", "JanitorErrors"), 1, 1)
	for _, f := range functions {
		// The webhook answers its own failures as HTTP statuses and the janitor has no
		// caller to retry it, so any error there is a crash; activities report workflow
		// errors (ImageNotAllowed, ...) as Lambda errors, so alarm on a burst only.
		threshold, periods := 5.0, 3.0
		if f == in.webhook || f == wf.janitor {
			threshold, periods = 1, 1
		}
		id := functionNames[f.name]
		alarm(id+"ErrorsAlarm", fmt.Sprintf("Lambda %s returned errors: read its log group %s", f.name, *f.logs.LogGroupName()),
			f.fn.MetricErrors(sum), threshold, periods)
		alarm(id+"ThrottlesAlarm", fmt.Sprintf("Lambda %s was throttled: raise its reserved concurrency or the account's Lambda concurrency", f.name),
			f.fn.MetricThrottles(sum), 1, 1)
	}

	switch {
	case cfg.AlarmTopicArn != "":
		o.topic = awssns.Topic_FromTopicArn(scope, jsii.String("AlarmTopic"), jsii.String(cfg.AlarmTopicArn))
	case cfg.AlarmEmail != "":
		t := awssns.NewTopic(scope, jsii.String("AlarmTopic"), &awssns.TopicProps{
			DisplayName: jsii.String("Runner Fleet alarms"),
			EnforceSSL:  jsii.Bool(true),
		})
		t.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(cfg.AlarmEmail), nil))
		cdknag.NagSuppressions_AddResourceSuppressions(t, &[]*cdknag.NagPackSuppression{{
			Id:     jsii.String("AwsSolutions-SNS2"),
			Reason: jsii.String("Alarm notifications carry no secrets; encrypting the topic would need a key policy letting CloudWatch use a customer managed key."),
		}}, jsii.Bool(false))
		o.topic = t
	}
	if o.topic != nil {
		action := awscloudwatchactions.NewSnsAction(o.topic)
		for _, a := range o.alarms {
			a.AddAlarmAction(action)
			a.AddOkAction(action)
		}
	}
	return o
}
