package ghrunner_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/internal/ghrunner"
	"github.com/runnerfleet/fleet/local/githubfake"
)

// A GitHub App client registers a just-in-time runner for a job, and reaps it only if
// it is idle: GitHub refuses to delete a busy runner, which makes the check atomic.
func Example() {
	key, pemKey, _ := githubfake.NewAppKey()
	fake := githubfake.New(githubfake.Config{})
	fake.AddApp(1, "runner-fleet", &key.PublicKey)
	_ = fake.AddInstallation(githubfake.Installation{ID: 9, AppID: 1, Account: "octo-org",
		Permissions: map[string]string{"administration": "write"}})
	srv := httptest.NewServer(fake)
	defer srv.Close()

	ctx := context.Background()
	gh, err := ghrunner.New(ctx, ghrunner.Options{AppID: 1, PrivateKey: pemKey, APIURL: srv.URL + "/api/v3/"})
	if err != nil {
		fmt.Println(err)
		return
	}
	client := gh.ForInstallation(9) // the installation id the webhook delivery named
	scope := ghrunner.RepoScope("octo-org", "app")
	name := fleet.ExecutionName("octo-org", "app", 42, 1)

	var jit ghrunner.JIT
	err = ghrunner.Do(ctx, 10*time.Second, func(ctx context.Context) error {
		jit, err = client.GenerateJITConfig(ctx, scope, ghrunner.JITRequest{Name: name, Labels: []string{"self-hosted", "class:medium"}})
		return err
	})
	if err != nil {
		fmt.Println(ghrunner.Classify(err))
		return
	}
	fmt.Printf("%+v\n", jit) // the config itself never prints: seal jit.EncodedConfig.Reveal()

	runner, _ := fake.ConnectRunner(jit.EncodedConfig.Reveal()) // the runner starts…
	_ = fake.SetBusy(runner.ID, true)                           // …and takes a job
	err = client.DeleteRunner(ctx, scope, jit.RunnerID)
	fmt.Println("busy:", errors.Is(err, fleet.ErrRunnerBusy))
	// Output:
	// ghrunner.JIT{RunnerID: 1, Name: "octo-org-app-42-1", Labels: ["self-hosted" "class:medium"], EncodedConfig: [redacted]}
	// busy: true
}
