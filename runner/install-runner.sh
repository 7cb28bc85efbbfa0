#!/bin/sh
# install-runner.sh turns a Debian/Ubuntu or RHEL-family base image into a Runner Fleet
# runner image. It runs as root inside `docker build` (Dockerfile.derived, Dockerfile)
# and installs, in one layer: the runner's tools (git, curl, jq, unzip, sudo, ...), the
# GitHub Actions runner at the version pinned in runner.env (SHA-256 verified), the
# runner's own library dependencies, tini as the init process, and a non-root `runner`
# user with passwordless sudo. It leaves no package caches or downloads behind.
#
# POSIX sh on purpose: it must run before bash is known to exist.
#
# Test hooks (never set in an image build): RUNNER_FLEET_ENV_FILE and
# RUNNER_FLEET_OS_RELEASE replace runner.env and /etc/os-release; RUNNER_FLEET_PREFIX is
# prepended to the paths the runner and tini are installed to.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
env_file=${RUNNER_FLEET_ENV_FILE:-$here/runner.env}
os_release=${RUNNER_FLEET_OS_RELEASE:-/etc/os-release}

runner_user=runner
runner_uid=1001
prefix=${RUNNER_FLEET_PREFIX:-}
runner_home=$prefix/home/runner
runner_dir=$runner_home/actions-runner
tini_path=$prefix/usr/local/bin/tini
work=$prefix/tmp/runner-fleet-install

die() {
	printf 'install-runner: %s\n' "$*" >&2
	exit 1
}
log() { printf 'install-runner: %s\n' "$*"; }

# --- Pinned versions: refuse to go on without a checksum for this architecture. ---
[ -r "$env_file" ] || die "cannot read $env_file (pinned runner version and checksums)"
# shellcheck source=SCRIPTDIR/runner.env
. "$env_file"

machine=$(uname -m)
case $machine in
x86_64 | amd64)
	runner_arch=x64
	tini_arch=amd64
	runner_sum=${RUNNER_SHA256_X64:-}
	tini_sum=${TINI_SHA256_AMD64:-}
	;;
aarch64 | arm64)
	runner_arch=arm64
	tini_arch=arm64
	runner_sum=${RUNNER_SHA256_ARM64:-}
	tini_sum=${TINI_SHA256_ARM64:-}
	;;
*) die "architecture $machine is not supported: the GitHub Actions runner is published for x86_64 and aarch64" ;;
esac

is_sha256() { printf '%s' "$1" | grep -Eq '^[0-9a-f]{64}$'; }
[ -n "${RUNNER_VERSION:-}" ] || die "RUNNER_VERSION is missing from $env_file"
[ -n "${TINI_VERSION:-}" ] || die "TINI_VERSION is missing from $env_file"
is_sha256 "$runner_sum" || die "no valid SHA-256 for actions-runner-linux-$runner_arch-$RUNNER_VERSION.tar.gz in $env_file; copy it from the release notes at https://github.com/actions/runner/releases/tag/v$RUNNER_VERSION (the build never installs an unverified runner)"
is_sha256 "$tini_sum" || die "no valid SHA-256 for tini-static-$tini_arch $TINI_VERSION in $env_file; copy it from https://github.com/krallin/tini/releases/tag/$TINI_VERSION"

# --- The base must be glibc-based: the runner is a .NET program built for glibc. ---
os_id=unknown
os_like=
if [ -r "$os_release" ]; then
	os_id=$(sed -n 's/^ID=//p' "$os_release" | tr -d '"' | head -n 1)
	os_like=$(sed -n 's/^ID_LIKE=//p' "$os_release" | tr -d '"' | head -n 1)
fi
musl=no
case " $os_id $os_like " in *" alpine "*) musl=yes ;; esac
if [ -z "${RUNNER_FLEET_OS_RELEASE:-}" ]; then
	[ -e /etc/alpine-release ] && musl=yes
	if command -v ldd >/dev/null 2>&1 && ldd --version 2>&1 | grep -qi musl; then musl=yes; fi
fi
if [ "$musl" = yes ]; then
	die "base image is ${os_id:-Alpine}/musl: the GitHub Actions runner needs glibc and does not run on musl. Use a Debian, Ubuntu or RHEL-family base (ubuntu:24.04, debian:12, rockylinux:9, amazonlinux:2023, ...)"
fi

# --- Package manager. ---
if command -v apt-get >/dev/null 2>&1; then
	pm=apt
elif command -v dnf >/dev/null 2>&1; then
	pm=dnf
elif command -v microdnf >/dev/null 2>&1; then
	pm=microdnf
elif command -v yum >/dev/null 2>&1; then
	pm=yum
else
	die "base image ${os_id} has none of apt-get, dnf, microdnf or yum; the build supports Debian/Ubuntu (apt) and RHEL-family (dnf/yum) bases"
fi
log "base ${os_id} (${os_like:-no ID_LIKE}), $machine, package manager $pm, runner $RUNNER_VERSION"

# Tools every job expects, by package name (the same on both families unless noted).
tools="ca-certificates git jq unzip sudo tar gzip bash findutils"
command -v curl >/dev/null 2>&1 || tools="$tools curl"

case $pm in
apt)
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	# shellcheck disable=SC2086 # word splitting of the package list is intended
	apt-get install -y --no-install-recommends $tools passwd
	;;
dnf | microdnf | yum)
	# The libraries the runner's installdependencies.sh names for RHEL (ICU, Kerberos,
	# zlib, OpenSSL), installed directly: that script only recognises hosts with
	# /etc/redhat-release, which Amazon Linux and some UBI images lack. lttng-ust, which
	# it also names, only serves .NET tracing and is not in every repository.
	flags="-y"
	[ "$pm" = microdnf ] || flags="-y --setopt=install_weak_deps=False"
	# shellcheck disable=SC2086
	"$pm" install $flags $tools shadow-utils libicu krb5-libs zlib openssl-libs
	;;
esac

# --- The runner user: uid 1001 as on GitHub's own runner images, when it is free. ---
if ! id "$runner_user" >/dev/null 2>&1; then
	if getent passwd "$runner_uid" >/dev/null 2>&1; then
		useradd --create-home --home-dir "$runner_home" --shell /bin/bash "$runner_user"
	else
		useradd --create-home --home-dir "$runner_home" --shell /bin/bash --uid "$runner_uid" "$runner_user"
	fi
fi

# --- The runner, verified before it is unpacked. ---
mkdir -p "$work" "$runner_dir"
runner_pkg=actions-runner-linux-$runner_arch-$RUNNER_VERSION.tar.gz
log "downloading $runner_pkg"
curl -fsSL --retry 5 -o "$work/$runner_pkg" "https://github.com/actions/runner/releases/download/v$RUNNER_VERSION/$runner_pkg"
printf '%s  %s\n' "$runner_sum" "$work/$runner_pkg" | sha256sum -c - >/dev/null ||
	die "$runner_pkg does not match the SHA-256 pinned in runner.env; refusing to install it"
tar -xzf "$work/$runner_pkg" -C "$runner_dir"

if [ "$pm" = apt ]; then
	# The runner's own dependency installer knows which libicu/libssl each release has.
	"$runner_dir/bin/installdependencies.sh" || die "the runner's bin/installdependencies.sh failed (see above)"
fi

log "downloading tini $TINI_VERSION"
curl -fsSL --retry 5 -o "$work/tini" "https://github.com/krallin/tini/releases/download/$TINI_VERSION/tini-static-$tini_arch"
printf '%s  %s\n' "$tini_sum" "$work/tini" | sha256sum -c - >/dev/null ||
	die "tini-static-$tini_arch does not match the SHA-256 pinned in runner.env; refusing to install it"
install -m 0755 "$work/tini" "$tini_path"

mkdir -p /etc/sudoers.d
printf '%s ALL=(ALL) NOPASSWD:ALL\nDefaults:%s !requiretty\nDefaults env_keep += "DEBIAN_FRONTEND"\n' "$runner_user" "$runner_user" >/etc/sudoers.d/runner
chmod 0440 /etc/sudoers.d/runner
grep -Eq '^[@#]includedir /etc/sudoers.d' /etc/sudoers || printf '@includedir /etc/sudoers.d\n' >>/etc/sudoers
chown -R "$runner_user:$runner_user" "$runner_home"

# --- Leave nothing behind. ---
rm -rf "$work"
case $pm in
apt) apt-get clean && rm -rf /var/lib/apt/lists/* ;;
*) "$pm" clean all >/dev/null 2>&1 || true; rm -rf /var/cache/dnf /var/cache/yum ;;
esac
log "runner $RUNNER_VERSION installed in $runner_dir for user $runner_user; init $tini_path"
