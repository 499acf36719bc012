#!/bin/sh
# pdvm(1) in man(7) roff on stdout, made from the tool's own help: `pdvm
# --help` gives the command list, `pdvm <command> --help` each command's
# usage and options, so the page cannot drift from the tool.
# Usage: manpage.sh VERSION PDVM [ARGS...]   (PDVM may be an emulator
# followed by the binary, for a cross build).
set -eu
version=$1
shift
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

# Verbatim text: backslashes, leading dots and quotes, and minus signs
# escaped so that groff prints them as they are.
roff() { sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }

help=$("$@" --help)
commands=$(printf '%s\n' "$help" | sed -n '/^commands:/,$ s/^  \([a-z][a-z0-9-]*\)  .*/\1/p')
[ -n "$commands" ] || { echo "manpage.sh: no commands in '$* --help'" >&2; exit 1; }

cat <<HEAD
.TH PDVM 1 "$(date -u -d "@$epoch" +%Y-%m-%d)" "pdvm $version" "User Commands"
.SH NAME
pdvm \\- run language models on OpenGL ES 3.1 compute shaders
.SH SYNOPSIS
.B pdvm
.I command
.RI [ options ]
.SH DESCRIPTION
pdvm runs Llama\\-family language models from GGUF files as OpenGL ES 3.1
compute shaders on a headless EGL context (Mesa drivers such as V3D,
Panfrost, Freedreno, llvmpipe; NVIDIA's EGL driver).
.PP
.nf
HEAD
printf '%s\n' "$help" | roff
echo .fi
echo .SH COMMANDS
for c in $commands; do
    echo ".SS pdvm $c"
    echo .nf
    text=$("$@" "$c" --help)
    printf '%s\n' "$text" | roff
    echo .fi
done
cat <<TAIL
.SH FILES
.TP
.I /etc/default/pdvm
settings of
.B pdvm serve
as the systemd unit
.I pdvm.service
starts it
.TP
.I \$XDG_CACHE_HOME/pdvm
compiled shader programs (\\fI~/.cache/pdvm\\fR; \\fI/var/cache/pdvm\\fR for the service)
.SH SEE ALSO
.BR systemctl (1),
.I /usr/share/doc/pdvm
TAIL
