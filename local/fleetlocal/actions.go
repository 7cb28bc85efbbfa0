package fleetlocal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/runnerfleet/fleet/local/githubfake"
	"github.com/runnerfleet/fleet/local/simrunner"
)

// actions switches on GitHub's side of a job's life — the job queue, the dispatcher
// that gives jobs to matching idle runners, signed workflow_job deliveries to the
// webhook — and the simulated runner tasks that boot in the ECS fake.
func (e *Env) actions(ctx context.Context, kmsClient *kms.Client) error {
	hookID, err := e.createHook(ctx)
	if err != nil {
		return err
	}
	err = e.GitHub.EnableActions(githubfake.ActionsConfig{
		WebhookURL:    e.WebhookURL,
		WebhookSecret: e.WebhookSecret,
		HookID:        hookID,
		QueueTimeout:  e.Opts.Scaled(e.Opts.QueueTimeout),
		// GitHub fails a job whose runner vanished once the runner's heartbeat lapses;
		// locally that is immediate, so Cleanup finds the registration idle, not busy.
		LostRunnerDelay: 100 * time.Millisecond,
		Logger:          e.log,
	})
	if err != nil {
		return err
	}
	e.extra = append(e.extra, e.GitHub.CloseActions)
	e.Runners = simrunner.Attach(e.AWS, e.GitHub, kmsClient, simrunner.Options{
		BootDelay:    e.Opts.BootDelay,
		BootDelayFor: e.Opts.BootDelayFor,
		Scale:        e.Opts.TimeScale,
		OnOpened:     e.Opts.OnOpened,
		Logger:       e.log,
	})
	e.extra = append([]func(){e.Runners.Close}, e.extra...)
	return nil
}

// HookOrg is the organisation whose webhook fleet-local registers, as `fleetctl setup
// github --org` would: deliveries are listed under it, so `fleetctl doctor --org
// octo-org` finds the webhook and its last delivery.
const HookOrg = "octo-org"

// createHook registers the fleet's webhook on the fake GitHub through its REST API.
func (e *Env) createHook(ctx context.Context) (int64, error) {
	body, _ := json.Marshal(map[string]any{
		"name": "web", "active": true, "events": []string{"workflow_job"},
		"config": map[string]string{"url": e.WebhookURL, "content_type": "json", "secret": e.WebhookSecret, "insecure_ssl": "0"},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.GitHubAPIURL+"/orgs/"+HookOrg+"/hooks", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+githubToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("register the webhook on the fake GitHub: %w", err)
	}
	defer res.Body.Close()
	var hook struct {
		ID int64 `json:"id"`
	}
	if res.StatusCode != http.StatusCreated || json.NewDecoder(res.Body).Decode(&hook) != nil || hook.ID == 0 {
		return 0, fmt.Errorf("register the webhook on the fake GitHub: answered %s", res.Status)
	}
	return hook.ID, nil
}
