package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/runnerfleet/fleet/internal/fleet"
)

// ClassesListCommand prints the class table (SSM parameter).
type ClassesListCommand struct {
	m *Main
}

// ClassesListOptions are the command's flags.
type ClassesListOptions struct {
	JSON bool
}

// Run parses args and prints the table.
func (c *ClassesListCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fleetctl classes list", flag.ContinueOnError)
	var ff fleetFlags
	ff.register(fs, OutputClassTableParameter)
	asJSON := fs.Bool("json", false, "print the table as JSON (the parameter's document)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: fleetctl classes list [options]\n\nPrints the class table: the sizes jobs choose with a class: label.\n\noptions:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, c.m.Stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("classes list takes no arguments, got %q", fs.Args())
	}
	opts := ClassesListOptions{JSON: *asJSON}
	f, err := c.m.fleet(ctx, &ff)
	if err != nil {
		return err
	}
	table, param, err := readClassTable(ctx, f)
	if err != nil {
		return err
	}
	if table == nil {
		return fmt.Errorf("class table %s does not exist; create a class with fleetctl classes set", param)
	}
	if opts.JSON {
		return writeJSON(c.m.Stdout, table)
	}
	return printClasses(c.m.Stdout, table)
}

// readClassTable reads and validates the class table; a missing parameter is a nil
// table and no error.
func readClassTable(ctx context.Context, f *Fleet) (fleet.ClassTable, string, error) {
	param, err := f.Resource(ctx, OutputClassTableParameter)
	if err != nil {
		return nil, "", err
	}
	out, err := f.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(param)})
	if apiCode(err) == "ParameterNotFound" {
		return nil, param, nil
	}
	if err != nil {
		return nil, param, fmt.Errorf("read class table %s (SSM GetParameter): %w", param, err)
	}
	table, err := fleet.ParseClassTable([]byte(aws.ToString(out.Parameter.Value)))
	if err != nil {
		return nil, param, fmt.Errorf("class table %s is invalid: %w; fix it with fleetctl classes set or in the SSM console", param, err)
	}
	return table, param, nil
}

func printClasses(w io.Writer, table fleet.ClassTable) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLASS\tCPU\tMEMORY\tARCH\tCAPACITY\tSTORAGE")
	for _, name := range table.Names() {
		cl := table[name]
		capacity := "on-demand"
		if cl.Spot {
			capacity = "spot"
		}
		storage := "20 GiB"
		if cl.EphemeralStorageGiB != 0 {
			storage = fmt.Sprintf("%d GiB", cl.EphemeralStorageGiB)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, vcpu(cl.CPU), memory(cl.Memory), cl.Architecture(), capacity, storage)
	}
	return tw.Flush()
}

func vcpu(units int) string {
	if units%1024 == 0 {
		return fmt.Sprintf("%d vCPU", units/1024)
	}
	return fmt.Sprintf("%.2g vCPU", float64(units)/1024)
}

func memory(mib int) string {
	if mib%1024 == 0 {
		return fmt.Sprintf("%d GiB", mib/1024)
	}
	return fmt.Sprintf("%d MiB", mib)
}

// ClassesSetCommand creates or changes one class of the table.
type ClassesSetCommand struct {
	m *Main
}

// ClassesSetOptions are the command's flags; Set names the flags given, which
// override an existing class's fields (the others keep their values).
type ClassesSetOptions struct {
	Name                string
	CPU, Memory         int
	Arch                string
	Spot                bool
	EphemeralStorageGiB int
	Set                 map[string]bool
}

// Run parses args and writes the class.
func (c *ClassesSetCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fleetctl classes set", flag.ContinueOnError)
	var ff fleetFlags
	ff.register(fs, OutputClassTableParameter)
	var opts ClassesSetOptions
	fs.IntVar(&opts.CPU, "cpu", 0, "CPU units (1024 = 1 vCPU): 256, 512, 1024, 2048, 4096, 8192 or 16384")
	fs.IntVar(&opts.Memory, "memory", 0, "memory in MiB, a pair Fargate accepts with --cpu")
	fs.StringVar(&opts.Arch, "arch", "", "x64 (default) or arm64")
	fs.BoolVar(&opts.Spot, "spot", false, "run on Fargate Spot (falls back to on-demand when Spot has no capacity)")
	fs.IntVar(&opts.EphemeralStorageGiB, "ephemeral-storage-gib", 0, "task storage in GiB, 21 to 200 (0: Fargate's 20 GiB)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: fleetctl classes set NAME --cpu N --memory MiB [--arch x64|arm64] [--spot] [--ephemeral-storage-gib N]\n\nCreates or changes a class. For an existing class, flags not given keep their values;\na new class needs --cpu and --memory. The table is validated before it is written.\n\noptions:\n")
		fs.PrintDefaults()
	}
	name, err := parseNamed(fs, args, c.m.Stdout)
	if err != nil {
		return err
	}
	opts.Name = strings.ToLower(name)
	opts.Set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { opts.Set[fl.Name] = true })
	f, err := c.m.fleet(ctx, &ff)
	if err != nil {
		return err
	}
	return c.set(ctx, f, opts)
}

func (c *ClassesSetCommand) set(ctx context.Context, f *Fleet, opts ClassesSetOptions) error {
	table, param, err := readClassTable(ctx, f)
	if err != nil {
		return err
	}
	if table == nil {
		table = fleet.ClassTable{}
	}
	cl, exists := table[opts.Name]
	if !exists && (!opts.Set["cpu"] || !opts.Set["memory"]) {
		return usageErrorf("class %q is new: give both --cpu and --memory", opts.Name)
	}
	cl.Name = opts.Name
	if opts.Set["cpu"] {
		cl.CPU = opts.CPU
	}
	if opts.Set["memory"] {
		cl.Memory = opts.Memory
	}
	if opts.Set["arch"] {
		cl.Arch = opts.Arch
		if cl.Arch == "x64" {
			cl.Arch = "" // the default, as the stack writes it
		}
	}
	if opts.Set["spot"] {
		cl.Spot = opts.Spot
	}
	if opts.Set["ephemeral-storage-gib"] {
		cl.EphemeralStorageGiB = opts.EphemeralStorageGiB
	}
	if err := fleet.ValidateFargateSize(cl.CPU, cl.Memory); err != nil {
		return fmt.Errorf("class %s not written: %w", opts.Name, err)
	}
	if err := cl.Validate(); err != nil {
		return fmt.Errorf("class %s not written: %w", opts.Name, err)
	}
	table[opts.Name] = cl
	doc, err := json.Marshal(table)
	if err != nil {
		return fmt.Errorf("encode the class table: %w", err)
	}
	// What ResolveImage will read must parse: check the exact bytes.
	if _, err := fleet.ParseClassTable(doc); err != nil {
		return fmt.Errorf("class table not written: %w", err)
	}
	_, err = f.SSM.PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String(param), Value: aws.String(string(doc)), Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("write class table %s (SSM PutParameter): %w", param, err)
	}
	verb := "created"
	if exists {
		verb = "updated"
	}
	fmt.Fprintf(c.m.Stdout, "class %s %s in %s (ResolveImage picks it up within its cache time, CLASS_CACHE_SECONDS)\n", opts.Name, verb, param)
	return printClasses(c.m.Stdout, fleet.ClassTable{opts.Name: cl})
}
