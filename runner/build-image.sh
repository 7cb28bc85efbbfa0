#!/usr/bin/env bash
# build-image.sh builds one runner image in CodeBuild (buildspec.yml runs it) and pushes
# it to the fleet's ECR repository:
#
#   FROM $BASE_IMAGE + install-runner.sh + the entrypoint  ->  $ECR_REPOSITORY_URI:$IMAGE_TAG
#
# Inputs arrive only as environment variables (CodeBuild environment overrides set by the
# workflow): BASE_IMAGE, IMAGE_TAG, ECR_REPOSITORY_URI, TARGET_ARCH (x64 | arm64). Each
# is validated here with the same patterns as runner/imageref (a Go test keeps them
# equal) and only ever used as a quoted argument, never evaluated, so a hostile image
# reference cannot inject a command.
#
# The build context is this directory: Dockerfile.derived, install-runner.sh, runner.env
# and entrypoint/linux-<amd64|arm64>/runner-fleet-entrypoint (make runner-context).
set -euo pipefail
export LC_ALL=C # bracket ranges in the patterns below are ASCII ranges

die() {
	printf 'runner-fleet image build: %s\n' "$*" >&2
	exit 1
}

# Patterns: keep identical to runner/imageref (RefPattern, TagPattern, RepositoryPattern).
ref_pattern='^([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*(:[0-9]+)?/)?[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$'
tag_pattern='^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$'
repository_pattern='^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*(:[0-9]+)?/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$'
max_ref_len=512
max_name_len=255

base_image=${BASE_IMAGE:-}
image_tag=${IMAGE_TAG:-}
repository_uri=${ECR_REPOSITORY_URI:-}
target_arch=${TARGET_ARCH:-}

[[ -n $base_image ]] || die "BASE_IMAGE is not set; the workflow passes the job's image: label as BASE_IMAGE"
if ((${#base_image} > max_ref_len)) || ! [[ $base_image =~ $ref_pattern ]]; then
	die "BASE_IMAGE is not a valid Docker image reference ([registry/]repository[:tag][@digest], at most $max_ref_len characters); refusing to build"
fi
base_name=${base_image%%@*} # the name part: no digest, and no tag (a colon followed by no slash)
if [[ $base_name == *:* && ${base_name##*:} != */* ]]; then base_name=${base_name%:*}; fi
((${#base_name} <= max_name_len)) || die "BASE_IMAGE's name is longer than Docker's $max_name_len characters; refusing to build"
[[ $image_tag =~ $tag_pattern ]] || die "IMAGE_TAG is not a valid image tag (1-128 of [A-Za-z0-9_.-])"
if ((${#repository_uri} > max_name_len)) || ! [[ $repository_uri =~ $repository_pattern ]]; then
	die "ECR_REPOSITORY_URI must be <registry host>/<repository> without a tag"
fi
case $target_arch in
x64) platform=linux/amd64 arch_machines="x86_64 amd64" ;;
arm64) platform=linux/arm64 arch_machines="aarch64 arm64" ;;
*) die "TARGET_ARCH must be x64 or arm64" ;;
esac
machine=$(uname -m)
[[ " $arch_machines " == *" $machine "* ]] ||
	die "TARGET_ARCH=$target_arch but this build host is $machine: build $target_arch images on a CodeBuild $target_arch environment (the runner install runs natively, without emulation)"

context=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
entrypoint="$context/entrypoint/${platform/\//-}/runner-fleet-entrypoint"
[[ -x $entrypoint ]] || die "the build context lacks $entrypoint; build it with 'make runner-context'"

registry=${repository_uri%%/*}
repository_name=${repository_uri#*/}
image="$repository_uri:$image_tag"

# A retried build whose push already succeeded has nothing left to do.
if aws ecr describe-images --repository-name "$repository_name" --image-ids "imageTag=$image_tag" >/dev/null 2>&1; then
	printf 'runner-fleet image build: %s already exists; nothing to build\n' "$image"
	exit 0
fi

aws ecr get-login-password | docker login --username AWS --password-stdin "$registry" ||
	die "cannot log in to $registry; the CodeBuild role needs ecr:GetAuthorizationToken and push rights on $repository_name"

printf 'runner-fleet image build: building %s from %s for %s\n' "$image" "$base_image" "$platform"
docker build \
	--pull \
	--platform "$platform" \
	--file "$context/Dockerfile.derived" \
	--build-arg "BASE_IMAGE=$base_image" \
	--label "org.opencontainers.image.base.name=$base_image" \
	--label "dev.runner-fleet.image-tag=$image_tag" \
	--tag "$image" \
	"$context" ||
	die "docker build failed for base $base_image (see the log above; an Alpine/musl base, a base without apt/dnf/yum, or a pull error are the usual causes)"
docker push "$image" || die "docker push of $image failed"

# A SOCI index lets Fargate start the task before the whole image is pulled. It is an
# optimisation: when the tools are missing or it fails, the image works as it is.
if command -v soci >/dev/null 2>&1 && command -v nerdctl >/dev/null 2>&1; then
	namespace=runner-fleet
	if nerdctl --namespace "$namespace" pull --platform "$platform" "$image" &&
		soci --namespace "$namespace" convert --platform "$platform" "$image" "$image" &&
		nerdctl --namespace "$namespace" push --platform "$platform" "$image"; then
		printf 'runner-fleet image build: SOCI index pushed with %s\n' "$image"
	else
		printf 'runner-fleet image build: warning: SOCI index not created for %s; tasks start without lazy loading\n' "$image" >&2
	fi
else
	printf 'runner-fleet image build: soci or nerdctl not on PATH; no SOCI index\n'
fi
printf 'runner-fleet image build: pushed %s\n' "$image"
