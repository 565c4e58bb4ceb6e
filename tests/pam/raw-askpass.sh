#!/bin/bash
# A deliberately dumb SSH_ASKPASS for tests: answers pam_k8s's prompts with
# whatever token is in $RAW_TOKEN_FILE, with none of k8s-ssh-askpass's
# client-side checks, so the tests can show the *server* refusing it.
#   RAW_MODE=framed    (default) k8s-ssh-askpass --frame $RAW_CHUNK lines,
#                      picked by the offset the prompt names
#   RAW_MODE=unframed  the bare token, however long (ssh cuts it)
# "Password:" prompts get $RAW_PASSWORD when set.  Anything else: exit 1.
set -u
prompt=${1-}
prompt=${prompt#\(*) }  # ssh 9.x prefix "(user@host) "
case $prompt in
"Kubernetes token (audience "*"): ")
	if [ "${RAW_MODE:-framed}" = unframed ]; then
		cat "$RAW_TOKEN_FILE"
	else
		"$RAW_ASKPASS_BIN" --frame "${RAW_CHUNK:-900}" <"$RAW_TOKEN_FILE" | head -n 1
	fi
	;;
"Kubernetes token (audience "*") continued at byte "*)
	off=${prompt##* continued at byte }
	off=${off%% of *}
	"$RAW_ASKPASS_BIN" --frame "${RAW_CHUNK:-900}" <"$RAW_TOKEN_FILE" | grep -m1 "^$off:"
	;;
*[Pp]assword:*)
	[ -n "${RAW_PASSWORD:-}" ] || exit 1
	printf '%s\n' "$RAW_PASSWORD"
	;;
*)
	exit 1
	;;
esac
