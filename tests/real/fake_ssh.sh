#!/bin/sh
# Stands in for ssh in tests (SYNCLAB_SSH): records the arguments it was given, which is
# what `ps` would show, then runs the remote command on this machine with its stdin.
# Called as: fake_ssh.sh -o BatchMode=yes HOST COMMAND
printf '%s\n' "$*" >> "$FAKE_SSH_LOG"
shift 3
exec /bin/sh -c "$1"
