package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/runnerfleet/fleet/internal/activity"
	"github.com/runnerfleet/fleet/internal/fleet"
)

// parameterReader is the SSM call the class cache makes.
type parameterReader interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// classCache reads the class table from SSM and keeps it for ttl, so a burst of jobs
// reads the parameter once and an edit takes effect within ttl. When SSM fails (say,
// throttled) and an older copy exists, the older copy is used and the failure logged: a
// class table a few minutes stale is better than failing every job of a burst.
type classCache struct {
	ssm   parameterReader
	name  string
	ttl   time.Duration
	now   func() time.Time
	log   *slog.Logger
	mu    sync.Mutex
	table fleet.ClassTable
	at    time.Time
}

func (c *classCache) get(ctx context.Context) (fleet.ClassTable, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.table != nil && c.now().Sub(c.at) < c.ttl {
		return c.table, nil
	}
	t, err := c.fetch(ctx)
	if err != nil {
		if c.table != nil && fleet.NameOf(err) == "" {
			c.log.WarnContext(ctx, "class table read failed; using the previous copy", "parameter", c.name, "age_seconds", int(c.now().Sub(c.at).Seconds()), "error", err)
			return c.table, nil
		}
		return nil, err
	}
	c.table, c.at = t, c.now()
	return t, nil
}

func (c *classCache) fetch(ctx context.Context) (fleet.ClassTable, error) {
	out, err := c.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: &c.name})
	if err != nil {
		var nf *ssmtypes.ParameterNotFound
		if errors.As(err, &nf) {
			return nil, activity.Misconfigured("class table parameter %s (CLASS_TABLE_PARAMETER) does not exist; create it or fix the variable", c.name)
		}
		return nil, fmt.Errorf("read class table %s from SSM: %w", c.name, err)
	}
	if out.Parameter == nil || out.Parameter.Value == nil {
		return nil, activity.Misconfigured("class table parameter %s (CLASS_TABLE_PARAMETER) has no value", c.name)
	}
	t, err := fleet.ParseClassTable([]byte(*out.Parameter.Value))
	if err != nil {
		return nil, activity.Misconfigured("class table parameter %s (CLASS_TABLE_PARAMETER) is invalid: %v", c.name, err)
	}
	return t, nil
}
