// Package bench measures Runner Fleet the way a platform team choosing a runner system
// would: how quickly a burst of queued jobs gets runners compared with what the AWS and
// GitHub quotas allow, what each job costs beyond its own compute at published prices,
// and what breaks under load. It drives the local environment (local/fleetlocal) with
// the quotas enforced by the fakes, measures the Lambda bootstraps (size, cold start
// under the Lambda Runtime Interface Emulator), and writes the report make bench
// commits under results/ (Markdown, JSON and an SVG chart). docs/bench.md explains
// every number.
package bench
