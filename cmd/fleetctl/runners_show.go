package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/internal/history"
)

// RunnersShowCommand shows one runner: its timeline, task, exit code, error and links.
type RunnersShowCommand struct {
	m *Main
}

// RunnersShowOptions are the command's flags.
type RunnersShowOptions struct {
	Name string
	JSON bool
}

// maxHistoryEvents bounds the history runners show reads.
const maxHistoryEvents = 2000

// RunnerDetail is what runners show prints.
type RunnerDetail struct {
	Runner
	RunID       int64           `json:"run_id,omitempty"`
	RunAttempt  int             `json:"run_attempt,omitempty"`
	Outcome     string          `json:"outcome,omitempty"`
	Tasks       []string        `json:"task_arns,omitempty"`
	TaskStatus  string          `json:"task_status,omitempty"`
	StopReason  string          `json:"task_stopped_reason,omitempty"`
	ExitCode    *int            `json:"exit_code,omitempty"`
	Error       string          `json:"error,omitempty"`
	Cause       string          `json:"cause,omitempty"`
	ConsoleURL  string          `json:"console_url"`
	LogURL      string          `json:"log_url,omitempty"`
	LogGroup    string          `json:"log_group,omitempty"`
	LogStream   string          `json:"log_stream,omitempty"`
	Timeline    []TimelineEntry `json:"timeline"`
	Truncated   bool            `json:"history_truncated,omitempty"`
	RunnerScope string          `json:"runner_scope,omitempty"`
	// ImageBuild is the RunnerFleetImageBuild execution the runner's image needed.
	ImageBuild    string `json:"image_build,omitempty"`
	ImageBuildURL string `json:"image_build_console_url,omitempty"`
}

// TimelineEntry is one state entered (or the execution's end).
type TimelineEntry struct {
	Time   time.Time `json:"time"`
	Event  string    `json:"event"`
	State  string    `json:"state,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// Run parses args and prints the runner.
func (c *RunnersShowCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fleetctl runners show", flag.ContinueOnError)
	var ff fleetFlags
	ff.register(fs, OutputStateMachineARN, OutputClusterName)
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: fleetctl runners show NAME [options]\n\nShows a runner (NAME = execution name or ARN): each state with its time, the task,\nits exit code, the error and cause, and links to the console and the task's logs.\n\noptions:\n")
		fs.PrintDefaults()
	}
	name, err := parseNamed(fs, args, c.m.Stdout)
	if err != nil {
		return err
	}
	opts := RunnersShowOptions{Name: name, JSON: *asJSON}
	f, err := c.m.fleet(ctx, &ff)
	if err != nil {
		return err
	}
	d, err := c.detail(ctx, f, opts.Name)
	if err != nil {
		return err
	}
	if opts.JSON {
		return writeJSON(c.m.Stdout, d)
	}
	return c.print(c.m.Stdout, d)
}

// parseNamed parses flags around one positional NAME (flags may follow it).
func parseNamed(fs *flag.FlagSet, args []string, stdout io.Writer) (string, error) {
	if err := parseFlags(fs, args, stdout); err != nil {
		return "", err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return "", usageErrorf("%s needs a NAME", strings.TrimPrefix(fs.Name(), "fleetctl "))
	}
	name := rest[0]
	if err := parseFlags(fs, rest[1:], stdout); err != nil {
		return "", err
	}
	if fs.NArg() > 0 {
		return "", usageErrorf("%s takes one NAME, got also %q", strings.TrimPrefix(fs.Name(), "fleetctl "), fs.Args())
	}
	return name, nil
}

func notFound(err error, name string) error {
	if apiCode(err) == "ExecutionDoesNotExist" {
		return fmt.Errorf("no runner %s: Step Functions has no such execution; list runners with fleetctl runners list", name)
	}
	return err
}

func (c *RunnersShowCommand) detail(ctx context.Context, f *Fleet, name string) (*RunnerDetail, error) {
	arn, err := executionARN(ctx, f, name)
	if err != nil {
		return nil, err
	}
	r, desc, err := describeRunner(ctx, f.SFN, arn, c.m.Now())
	if err != nil {
		return nil, fmt.Errorf("describe runner %s: %w", name, notFound(err, name))
	}
	d := &RunnerDetail{Runner: *r, RunID: r.job.RunID, RunAttempt: r.job.RunAttempt, ConsoleURL: consoleURL(f.Region(), arn)}
	d.Error, d.Cause = aws.ToString(desc.Error), aws.ToString(desc.Cause)
	if res := r.result; res != nil {
		d.Outcome, d.ExitCode = res.Outcome, res.ExitCode
		if d.Error == "" {
			d.Error, d.Cause = res.Error, res.Cause
		}
	}

	events, truncated, err := fullHistory(ctx, f.SFN, arn)
	if err != nil {
		return nil, err
	}
	d.Truncated = truncated
	d.Timeline = timeline(events)
	p := readProgress(events)
	d.Tasks = p.tasks
	if doc := latestState(events); doc != nil {
		d.RunnerScope = doc.Runner.Scope
	}
	// The image build this runner waited for, when its image had to be built.
	if doc := latestDoc(events, `"plan"`, func(st *fleet.State) bool { return st.Plan != nil && st.Plan.Image.BuildName != "" }); doc != nil && !doc.Plan.Image.Exists {
		if machine, err := f.ImageBuildStateMachineARN(ctx); err == nil {
			if arn, err := history.ExecutionARN(machine, doc.Plan.Image.BuildName); err == nil {
				d.ImageBuild, d.ImageBuildURL = doc.Plan.Image.BuildName, consoleURL(f.Region(), arn)
			}
		}
	}
	if len(d.Tasks) > 0 {
		d.TaskARN = d.Tasks[0]
	}
	tagged := false
	if d.TaskARN != "" {
		tasks, err := describeTasks(ctx, f.ECS, []string{d.TaskARN}, func() (string, error) { return f.Resource(ctx, OutputClusterName) })
		if err != nil {
			return nil, err
		}
		if t, ok := tasks[d.TaskARN]; ok {
			tagged = hasTag(t, jobTag)
			d.TaskStatus, d.StopReason = aws.ToString(t.LastStatus), aws.ToString(t.StoppedReason)
			for _, ct := range t.Containers {
				if aws.ToString(ct.Name) == fleet.RunnerContainer && ct.ExitCode != nil && d.ExitCode == nil {
					code := int(*ct.ExitCode)
					d.ExitCode = &code
				}
			}
			d.LogGroup, d.LogStream, d.LogURL = c.logs(ctx, f, t)
		} else {
			d.TaskStatus = "gone (ECS forgets stopped tasks after about an hour)"
		}
	}
	d.State = deriveState(sfntypes.ExecutionStatus(d.Status), r.result, p, tagged)
	return d, nil
}

// fullHistory reads the execution's history in order, at most maxHistoryEvents.
func fullHistory(ctx context.Context, client *sfn.Client, arn string) ([]sfntypes.HistoryEvent, bool, error) {
	var events []sfntypes.HistoryEvent
	p := sfn.NewGetExecutionHistoryPaginator(client, &sfn.GetExecutionHistoryInput{
		ExecutionArn: aws.String(arn), MaxResults: 1000, IncludeExecutionData: aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("read the history of %s (Step Functions GetExecutionHistory): %w", arn, err)
		}
		events = append(events, page.Events...)
		if len(events) >= maxHistoryEvents {
			return events[:maxHistoryEvents], p.HasMorePages() || len(events) > maxHistoryEvents, nil
		}
	}
	return events, false, nil
}

// timeline lists the states entered and the execution's end.
func timeline(events []sfntypes.HistoryEvent) []TimelineEntry {
	var out []TimelineEntry
	for _, ev := range events {
		at := aws.ToTime(ev.Timestamp).UTC()
		typ := string(ev.Type)
		switch {
		case ev.StateEnteredEventDetails != nil && strings.HasSuffix(typ, "StateEntered"):
			out = append(out, TimelineEntry{Time: at, Event: "entered", State: aws.ToString(ev.StateEnteredEventDetails.Name)})
		case ev.TaskFailedEventDetails != nil:
			out = append(out, TimelineEntry{Time: at, Event: "task failed", Detail: aws.ToString(ev.TaskFailedEventDetails.Error)})
		case ev.TaskTimedOutEventDetails != nil:
			out = append(out, TimelineEntry{Time: at, Event: "task timed out", Detail: aws.ToString(ev.TaskTimedOutEventDetails.Error)})
		case ev.Type == sfntypes.HistoryEventTypeExecutionSucceeded:
			out = append(out, TimelineEntry{Time: at, Event: "succeeded"})
		case ev.ExecutionFailedEventDetails != nil:
			out = append(out, TimelineEntry{Time: at, Event: "failed", Detail: aws.ToString(ev.ExecutionFailedEventDetails.Error)})
		case ev.Type == sfntypes.HistoryEventTypeExecutionFailed:
			out = append(out, TimelineEntry{Time: at, Event: "failed"})
		case ev.Type == sfntypes.HistoryEventTypeExecutionAborted:
			detail := ""
			if ev.ExecutionAbortedEventDetails != nil {
				detail = aws.ToString(ev.ExecutionAbortedEventDetails.Error)
			}
			out = append(out, TimelineEntry{Time: at, Event: "aborted", Detail: detail})
		case ev.Type == sfntypes.HistoryEventTypeExecutionTimedOut:
			out = append(out, TimelineEntry{Time: at, Event: "timed out"})
		}
	}
	return out
}

// latestState is the newest state document the history shows (a state's input or
// output) that records the runner's registration (runner.scope, runner.id).
func latestState(events []sfntypes.HistoryEvent) *fleet.State {
	return latestDoc(events, `"runner"`, func(st *fleet.State) bool { return st.Runner != nil && st.Runner.Scope != "" })
}

// latestDoc is the newest state document (events oldest first) containing key and
// accepted by ok.
func latestDoc(events []sfntypes.HistoryEvent, key string, ok func(*fleet.State) bool) *fleet.State {
	for i := len(events) - 1; i >= 0; i-- {
		ev := events[i]
		var docs []string
		if d := ev.StateExitedEventDetails; d != nil {
			docs = append(docs, aws.ToString(d.Output))
		}
		if d := ev.StateEnteredEventDetails; d != nil {
			docs = append(docs, aws.ToString(d.Input))
		}
		for _, doc := range docs {
			if !strings.Contains(doc, key) {
				continue
			}
			var st fleet.State
			if err := json.Unmarshal([]byte(doc), &st); err == nil && ok(&st) {
				return &st
			}
		}
	}
	return nil
}

// logs finds the runner container's CloudWatch Logs stream from the task definition's
// awslogs configuration: <awslogs-stream-prefix>/<container>/<task id>.
func (c *RunnersShowCommand) logs(ctx context.Context, f *Fleet, t ecstypes.Task) (group, stream, link string) {
	td, err := f.ECS.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: t.TaskDefinitionArn})
	if err != nil || td.TaskDefinition == nil {
		return "", "", ""
	}
	for _, cd := range td.TaskDefinition.ContainerDefinitions {
		lc := cd.LogConfiguration
		if aws.ToString(cd.Name) != fleet.RunnerContainer || lc == nil || lc.LogDriver != ecstypes.LogDriverAwslogs {
			continue
		}
		group = lc.Options["awslogs-group"]
		region := lc.Options["awslogs-region"]
		if region == "" {
			region = f.Region()
		}
		taskID := aws.ToString(t.TaskArn)
		taskID = taskID[strings.LastIndexByte(taskID, '/')+1:]
		if prefix := lc.Options["awslogs-stream-prefix"]; prefix != "" {
			stream = prefix + "/" + fleet.RunnerContainer + "/" + taskID
		}
		if group == "" {
			return "", "", ""
		}
		link = fmt.Sprintf("https://%s.console.aws.amazon.com/cloudwatch/home?region=%s#logsV2:log-groups/log-group/%s", region, region, consoleEscape(group))
		if stream != "" {
			link += "/log-events/" + consoleEscape(stream)
		}
		return group, stream, link
	}
	return "", "", ""
}

// consoleEscape encodes a log group or stream name the way the CloudWatch console's
// fragment expects: URL-escaped, then '%' written as '$25'.
func consoleEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "%", "$25")
}

func (c *RunnersShowCommand) print(w io.Writer, d *RunnerDetail) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("runner", d.Name)
	row("state", d.State+" (execution "+d.Status+")")
	if d.Repository != "" {
		row("job", fmt.Sprintf("%s job %d (run %d, attempt %d)", d.Repository, d.JobID, d.RunID, d.RunAttempt))
	}
	row("image", d.Image)
	row("class", d.Class)
	row("started", d.StartedAt.Format(time.RFC3339))
	dur := humanDuration(time.Duration(d.DurationSeconds) * time.Second)
	if d.StoppedAt != nil {
		row("stopped", d.StoppedAt.Format(time.RFC3339)+" (after "+dur+")")
	} else {
		row("running for", dur)
	}
	row("image build", d.ImageBuild)
	row("image build console", d.ImageBuildURL)
	row("outcome", d.Outcome)
	row("runner scope", d.RunnerScope)
	for i, t := range d.Tasks {
		label := "task"
		if i > 0 {
			label = "earlier task"
		}
		row(label, t)
	}
	row("task status", d.TaskStatus)
	row("stopped reason", d.StopReason)
	if d.ExitCode != nil {
		row("exit code", fmt.Sprint(*d.ExitCode))
	}
	row("error", d.Error)
	row("cause", oneLine(d.Cause))
	row("execution", d.ExecutionARN)
	row("console", d.ConsoleURL)
	row("logs", d.LogURL)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nTIMELINE")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tAFTER\tEVENT")
	for _, e := range d.Timeline {
		what := e.Event
		if e.State != "" {
			what = e.State
		}
		if e.Detail != "" {
			what += " (" + e.Detail + ")"
		}
		fmt.Fprintf(tw, "%s\t+%s\t%s\n", e.Time.Format(time.RFC3339), humanDuration(e.Time.Sub(d.StartedAt)), what)
	}
	if d.Truncated {
		fmt.Fprintf(tw, "…\t\thistory longer than %d events; see the console\n", maxHistoryEvents)
	}
	return tw.Flush()
}
