package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/go-github/v66/github"

	"github.com/runnerfleet/fleet/internal/credentials"
	"github.com/runnerfleet/fleet/internal/ghrunner"
)

// SetupGitHubCommand connects the fleet to GitHub: it checks the credentials, stores
// them with a fresh webhook secret in the fleet's secret, and creates or updates the
// workflow_job webhook.
type SetupGitHubCommand struct {
	m *Main
}

// SetupGitHubOptions are the command's flags.
type SetupGitHubOptions struct {
	Scope          ghrunner.Scope
	TokenStdin     bool
	TokenEnv       string
	AppID          int64
	PrivateKeyFile string
	APIURL         string
}

// WebhookEvent is the only event the fleet's webhook needs.
const WebhookEvent = "workflow_job"

// Run parses args and sets GitHub up.
func (c *SetupGitHubCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fleetctl setup github", flag.ContinueOnError)
	var ff fleetFlags
	ff.register(fs, OutputSecretARN, OutputWebhookURL)
	var opts SetupGitHubOptions
	repo := fs.String("repo", "", "repository OWNER/NAME whose jobs the fleet serves (runners register there)")
	org := fs.String("org", "", "organisation NAME whose jobs the fleet serves (runners register there)")
	fs.BoolVar(&opts.TokenStdin, "token-stdin", false, "read a personal access token from standard input (scopes: repo or admin:org, and admin:repo_hook or admin:org_hook)")
	fs.StringVar(&opts.TokenEnv, "token-env", "", "read a personal access token from this environment variable")
	fs.Int64Var(&opts.AppID, "app-id", 0, "GitHub App id (with --private-key-file; the App needs Administration or Self-hosted runners: write, and Webhooks: write)")
	fs.StringVar(&opts.PrivateKeyFile, "private-key-file", "", "the GitHub App's private key (PEM)")
	fs.StringVar(&opts.APIURL, "api-url", "", "GitHub Enterprise Server REST base, e.g. https://ghe.example.com/api/v3/ (empty: github.com)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: fleetctl setup github --repo OWNER/NAME | --org NAME [--token-stdin | --token-env VAR | --app-id N --private-key-file F] [--webhook-url URL]\n\nChecks the credentials against GitHub, writes them and a new random webhook secret to\nthe fleet's secret, and creates (or updates) the webhook: event workflow_job, content\ntype json. Run it again to rotate the webhook secret. Neither secret is ever printed.\n\noptions:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, c.m.Stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("setup github takes no arguments, got %q", fs.Args())
	}
	switch {
	case (*repo == "") == (*org == ""):
		return usageErrorf("give exactly one of --repo OWNER/NAME or --org NAME")
	case *repo != "":
		owner, name, ok := strings.Cut(*repo, "/")
		if !ok || strings.Contains(name, "/") {
			return usageErrorf("--repo %q must be OWNER/NAME", *repo)
		}
		opts.Scope = ghrunner.RepoScope(owner, name)
	default:
		opts.Scope = ghrunner.OrgScope(*org)
	}
	if err := opts.Scope.Validate(); err != nil {
		return usageErrorf("%v", err)
	}
	methods := 0
	for _, set := range []bool{opts.TokenStdin, opts.TokenEnv != "", opts.AppID != 0 || opts.PrivateKeyFile != ""} {
		if set {
			methods++
		}
	}
	if methods != 1 {
		return usageErrorf("give exactly one credential: --token-stdin, --token-env VAR, or --app-id N with --private-key-file F")
	}
	if (opts.AppID != 0) != (opts.PrivateKeyFile != "") {
		return usageErrorf("a GitHub App needs both --app-id and --private-key-file")
	}
	sec, err := c.credentials(opts)
	if err != nil {
		return err
	}
	f, err := c.m.fleet(ctx, &ff)
	if err != nil {
		return err
	}
	return c.setup(ctx, f, opts, sec)
}

// credentials reads the token or key; the secret's webhook_secret is filled later.
func (c *SetupGitHubCommand) credentials(opts SetupGitHubOptions) (credentials.Secret, error) {
	sec := credentials.Secret{APIURL: opts.APIURL}
	switch {
	case opts.TokenStdin:
		line, err := bufio.NewReader(io.LimitReader(c.m.Stdin, 64<<10)).ReadString('\n')
		if err != nil && err != io.EOF {
			return sec, fmt.Errorf("read the token from standard input: %w", err)
		}
		sec.Token = strings.TrimSpace(line)
		if sec.Token == "" {
			return sec, usageErrorf("--token-stdin: standard input held no token")
		}
	case opts.TokenEnv != "":
		sec.Token = strings.TrimSpace(c.m.Getenv(opts.TokenEnv))
		if sec.Token == "" {
			return sec, usageErrorf("--token-env: environment variable %s is empty or unset", opts.TokenEnv)
		}
	default:
		key, err := os.ReadFile(opts.PrivateKeyFile)
		if err != nil {
			return sec, fmt.Errorf("read the GitHub App's private key: %w", err)
		}
		sec.AppID, sec.PrivateKey = opts.AppID, string(key)
	}
	return sec, nil
}

func (c *SetupGitHubCommand) setup(ctx context.Context, f *Fleet, opts SetupGitHubOptions, sec credentials.Secret) error {
	w := c.m.Stdout
	secretARN, err := f.Resource(ctx, OutputSecretARN)
	if err != nil {
		return err
	}
	// --webhook-url, FLEET_WEBHOOK_URL, else the stack's WebhookUrl.
	hookURL, err := f.Resource(ctx, OutputWebhookURL)
	if err != nil {
		return err
	}
	if u, err := url.Parse(hookURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("webhook URL %q is not an http(s) URL; pass --webhook-url (the stack's WebhookUrl output)", hookURL)
	}

	// 1. The credentials work and may manage runners and webhooks in the scope.
	gh, err := ghrunner.New(ctx, ghOptions(sec, c.m.HTTPClient))
	if err != nil {
		return err
	}
	runners, err := gh.ListRunners(ctx, opts.Scope, ghrunner.ListOptions{})
	if err != nil {
		return fmt.Errorf("check the credentials: %w", err)
	}
	kind := "token"
	if sec.AppID != 0 {
		kind = fmt.Sprintf("GitHub App %d", sec.AppID)
	}
	fmt.Fprintf(w, "credentials  OK: %s may manage runners in %s (%d registered)\n", kind, opts.Scope, len(runners))
	hc, err := hookClient(ctx, sec, opts.Scope, c.m.HTTPClient)
	if err != nil {
		return err
	}
	api := hookAPI{c: hc, scope: opts.Scope}
	hooks, err := api.list(ctx)
	if err != nil {
		return fmt.Errorf("list the webhooks of %s: %w; the %s needs webhook admin rights (PAT: admin:repo_hook or admin:org_hook; App: Webhooks: write)", opts.Scope, ghError(err), kind)
	}

	// 2. The secret document, with a new webhook secret.
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return fmt.Errorf("generate a webhook secret: %w", err)
	}
	sec.WebhookSecret = hex.EncodeToString(raw)
	doc, err := json.Marshal(sec)
	if err != nil {
		return fmt.Errorf("encode the secret document: %w", err)
	}
	if _, err := f.SecretsManager.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(secretARN), SecretString: aws.String(string(doc))}); err != nil {
		return fmt.Errorf("write secret %s (Secrets Manager PutSecretValue): %w", secretARN, err)
	}
	fmt.Fprintf(w, "secret       written: %s (%s, new webhook_secret)\n", secretARN, kind)

	// 3. The webhook, matched by its URL.
	hook := &github.Hook{
		Events: []string{WebhookEvent},
		Active: github.Bool(true),
		Config: &github.HookConfig{URL: github.String(hookURL), ContentType: github.String("json"), Secret: github.String(sec.WebhookSecret), InsecureSSL: github.String("0")},
	}
	if existing := findHook(hooks, hookURL); existing != nil {
		if _, err := api.edit(ctx, existing.GetID(), hook); err != nil {
			return fmt.Errorf("update webhook %d of %s: %w; the secret already holds the new webhook_secret, so run setup github again", existing.GetID(), opts.Scope, ghError(err))
		}
		fmt.Fprintf(w, "webhook      updated: %d on %s -> %s (%s, json, active)\n", existing.GetID(), opts.Scope, hookURL, WebhookEvent)
		return nil
	}
	created, err := api.create(ctx, hook)
	if err != nil {
		return fmt.Errorf("create the webhook on %s: %w; the secret already holds the new webhook_secret, so run setup github again", opts.Scope, ghError(err))
	}
	fmt.Fprintf(w, "webhook      created: %d on %s -> %s (%s, json, active)\n", created.GetID(), opts.Scope, hookURL, WebhookEvent)
	return nil
}
