package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// RunnersListCommand lists runners: the RunnerFleet executions, newest first.
type RunnersListCommand struct {
	m *Main
}

// RunnersListOptions are the command's flags.
type RunnersListOptions struct {
	States      []string
	Repo        string
	Since       time.Time
	Limit       int
	Concurrency int
	JSON        bool
}

const (
	listPageSize = 100
	// scanFactor bounds how many executions a filtered list reads: limit × scanFactor.
	scanFactor = 10
)

// Run parses args and prints the list.
func (c *RunnersListCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fleetctl runners list", flag.ContinueOnError)
	var ff fleetFlags
	ff.register(fs, OutputStateMachineARN, OutputClusterName)
	state := fs.String("state", "", "show only these states, comma-separated: "+strings.Join(allStates, ", "))
	repo := fs.String("repo", "", "show only runners of repository OWNER/NAME")
	since := fs.String("since", "", "show only runners started within this duration (24h, 90m) or after this time (RFC 3339 or YYYY-MM-DD)")
	limit := fs.Int("limit", 100, "show at most this many runners (it reads at most 10× as many executions)")
	conc := fs.Int("concurrency", 8, "histories read in parallel")
	asJSON := fs.Bool("json", false, "print JSON (an array of runners) instead of a table")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: fleetctl runners list [options]\n\nLists runners (RunnerFleet executions), newest first. STATE is derived from the\nexecution's status, its history and its output; see docs/fleetctl.md.\n\noptions:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, c.m.Stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("runners list takes no arguments, got %q", fs.Args())
	}
	opts := RunnersListOptions{Repo: *repo, Limit: *limit, Concurrency: *conc, JSON: *asJSON}
	if *state != "" {
		for _, s := range strings.Split(*state, ",") {
			s = strings.ToUpper(strings.TrimSpace(s))
			if !contains(allStates, s) {
				return usageErrorf("--state %q is not a state; use %s", s, strings.Join(allStates, ", "))
			}
			opts.States = append(opts.States, s)
		}
	}
	if *since != "" {
		t, err := parseSince(*since, c.m.Now())
		if err != nil {
			return usageErrorf("--since: %v", err)
		}
		opts.Since = t
	}
	if opts.Limit <= 0 {
		return usageErrorf("--limit must be positive, got %d", opts.Limit)
	}
	if opts.Concurrency <= 0 || opts.Concurrency > 64 {
		return usageErrorf("--concurrency must be between 1 and 64, got %d", opts.Concurrency)
	}
	if opts.Repo != "" && strings.Count(opts.Repo, "/") != 1 {
		return usageErrorf("--repo %q must be OWNER/NAME", opts.Repo)
	}
	f, err := c.m.fleet(ctx, &ff)
	if err != nil {
		return err
	}
	runners, truncated, err := c.list(ctx, f, opts)
	if err != nil {
		return err
	}
	if truncated {
		fmt.Fprintf(c.m.Stderr, "fleetctl: read %d executions without finding %d matching runners; narrow with --since or raise --limit\n", opts.Limit*scanFactor, opts.Limit)
	}
	if opts.JSON {
		return writeJSON(c.m.Stdout, runners)
	}
	return c.table(c.m.Stdout, runners)
}

// parseFlags parses args quietly: --help prints the usage on stdout (exit 0), and a
// bad flag becomes a one-line UsageError (exit 2) rather than the flag package's
// message followed by the whole usage.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if err == flag.ErrHelp {
		fs.SetOutput(stdout)
		fs.Usage()
		return err
	}
	if err != nil {
		return &UsageError{Msg: err.Error()}
	}
	return nil
}

// parseSince reads a duration back from now, an RFC 3339 time or a date.
func parseSince(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("duration %s must be positive", v)
		}
		return now.Add(-d), nil
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither a duration (24h, 7d) nor a time (2026-11-27T08:00:00Z, 2026-11-27)", v)
}

// list walks ListExecutions pages newest first, reads each page's executions with a
// small pool, and keeps the matching runners until opts.Limit.
func (c *RunnersListCommand) list(ctx context.Context, f *Fleet, opts RunnersListOptions) ([]*Runner, bool, error) {
	sm, err := f.Resource(ctx, OutputStateMachineARN)
	if err != nil {
		return nil, false, err
	}
	// Without a filter every execution read is shown, so read no more than --limit.
	unfiltered := len(opts.States) == 0 && opts.Repo == ""
	in := &sfn.ListExecutionsInput{StateMachineArn: aws.String(sm), MaxResults: listPageSize}
	if unfiltered {
		in.MaxResults = int32(min(listPageSize, opts.Limit))
	}
	if len(opts.States) > 0 && allIn(opts.States, liveStates) {
		in.StatusFilter = sfntypes.ExecutionStatusRunning
	}
	out := []*Runner{}
	scanned, maxScan := 0, opts.Limit*scanFactor
	p := sfn.NewListExecutionsPaginator(f.SFN, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("list executions of %s (Step Functions ListExecutions): %w", sm, err)
		}
		var items []sfntypes.ExecutionListItem
		done := false
		for _, it := range page.Executions {
			if !opts.Since.IsZero() && aws.ToTime(it.StartDate).Before(opts.Since) {
				done = true // newest first: the rest are older
				break
			}
			items = append(items, it)
		}
		if scanned+len(items) > maxScan {
			items = items[:maxScan-scanned]
		}
		if unfiltered && len(items) > opts.Limit-len(out) {
			items = items[:opts.Limit-len(out)]
		}
		scanned += len(items)
		runners, err := c.read(ctx, f, items, opts.Concurrency)
		if err != nil {
			return nil, false, err
		}
		for _, r := range runners {
			if matches(r, opts) {
				out = append(out, r)
				if len(out) == opts.Limit {
					return out, false, nil
				}
			}
		}
		if done {
			return out, false, nil
		}
		if scanned >= maxScan {
			return out, p.HasMorePages() || len(page.Executions) > len(items), nil
		}
	}
	return out, false, nil
}

func allIn(list, set []string) bool {
	for _, s := range list {
		if !contains(set, s) {
			return false
		}
	}
	return true
}

func matches(r *Runner, opts RunnersListOptions) bool {
	if len(opts.States) > 0 && !contains(opts.States, r.State) {
		return false
	}
	return opts.Repo == "" || strings.EqualFold(r.Repository, opts.Repo)
}

// read describes items concurrently (DescribeExecution; for running ones the newest
// history page too), then asks ECS which waiting runners' tasks carry the job tag.
func (c *RunnersListCommand) read(ctx context.Context, f *Fleet, items []sfntypes.ExecutionListItem, workers int) ([]*Runner, error) {
	runners := make([]*Runner, len(items))
	errs := make([]error, len(items))
	jobs := make(chan int)
	var wg sync.WaitGroup
	now := c.m.Now()
	for range min(workers, len(items)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				arn := aws.ToString(items[i].ExecutionArn)
				r, _, err := describeRunner(ctx, f.SFN, arn, now)
				if err == nil && items[i].Status == sfntypes.ExecutionStatusRunning {
					var events []sfntypes.HistoryEvent
					events, err = recentEvents(ctx, f.SFN, arn, recentEventsLimit)
					if err == nil {
						r.progress = readProgress(events)
						if len(r.progress.tasks) > 0 {
							r.TaskARN = r.progress.tasks[0]
						}
					}
				}
				if err != nil {
					err = fmt.Errorf("read execution %s: %w", arn, err)
				}
				runners[i], errs[i] = r, err
			}
		}()
	}
	for i := range items {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}

	var waiting []string
	for _, r := range runners {
		r.State = deriveState(sfntypes.ExecutionStatus(r.Status), r.result, r.progress, false)
		if r.State == StateWaitingForJob && r.TaskARN != "" {
			waiting = append(waiting, r.TaskARN)
		}
	}
	if len(waiting) > 0 {
		tasks, err := describeTasks(ctx, f.ECS, waiting, func() (string, error) { return f.Resource(ctx, OutputClusterName) })
		if err != nil {
			return nil, err
		}
		for _, r := range runners {
			if t, ok := tasks[r.TaskARN]; ok && r.State == StateWaitingForJob && hasTag(t, jobTag) {
				r.State = StateRunning
			}
		}
	}
	return runners, nil
}

func (c *RunnersListCommand) table(w io.Writer, runners []*Runner) error {
	if len(runners) == 0 {
		_, err := fmt.Fprintln(w, "no runners")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUNNER\tREPO\tJOB\tSTATE\tIMAGE\tCLASS\tSTARTED\tDURATION")
	for _, r := range runners {
		job := "-"
		if r.JobID != 0 {
			job = strconv.FormatInt(r.JobID, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, dash(r.Repository), job, r.State,
			dash(r.Image), dash(r.Class), r.StartedAt.Format(time.RFC3339), humanDuration(time.Duration(r.DurationSeconds)*time.Second))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
