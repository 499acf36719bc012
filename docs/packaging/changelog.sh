#!/bin/sh
# The Debian changelog of a package built from this tree: one entry for
# VERSION naming the git commit, dated by SOURCE_DATE_EPOCH or the commit.
# Usage: changelog.sh VERSION MAINTAINER
set -eu
version=$1 maintainer=$2
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
printf 'pdvm (%s) unstable; urgency=medium\n\n  * Built from git commit %s.\n\n -- %s  %s\n' \
    "$version" "$commit" "$maintainer" "$(LC_ALL=C date -u -R -d "@$epoch")"
