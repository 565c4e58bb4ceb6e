#!/bin/bash
# Issue 10.4 through the real PAM stack (pamtester): a configuration whose
# audiences the cluster accepts for itself (here the apiserver's URL, the
# fake's default token audience) is refused at load, so the token every
# pod holds for the API does not log in; with
# policy.allowClusterAudiences: true it does, and every login logs a
# "token warning" line saying why.  Private mount namespace
# (tests/pam/pamlib.sh).
. "$(dirname "$0")/../pam/pamlib.sh"
pk_begin pamtester
PK_AUD=$PK_URL pk_write_config
pk_stack k8s-test "auth required MOD CFG"
UID_A=9d3e0e52-8a7b-4c1d-9e2f-0000000000a1
# What kubectl create token (no --audience) and a pod's API token carry.
api_tok=$(pk_sa_ensure alice "$UID_A" && pk_fc mint --sa ops/alice --uid "$UID_A" --ttl 600)

pk_mark_log
pk_pam k8s-test ops.alice authenticate <<<"$api_tok"
pk_check "audience = the apiserver's URL: the API token does not log in" test "$PK_RC" != 0
pk_check "the configuration is refused, saying why" \
	grep -qF "configuration unusable (configuration error): $T/config.yaml: tokenReview.audiences[0]: \"$PK_URL\" is the apiserver's URL" \
	<<<"$(pk_new_log)"
pk_check "no TokenReview was sent" test "$(pk_reviews)" = 0

sed -i 's/^policy:$/policy:\n  allowClusterAudiences: true/' "$T/config.yaml"
pk_check "policy.allowClusterAudiences set" grep -q '^  allowClusterAudiences: true$' "$T/config.yaml"
pk_mark_log
pk_pam k8s-test ops.alice authenticate <<<"$api_tok"
pk_check "allowClusterAudiences: the API token logs in" test "$PK_RC" = 0
line=$(pk_new_log | grep 'token warning')
pk_check "...with a warning logged" \
	grep -qF "user=\"ops.alice\" warning=\"tokenReview.audiences[0] \\x22$PK_URL\\x22 is the apiserver's URL" <<<"$line"
pk_check "...saying what it lets in" grep -qF "policy.allowClusterAudiences lets every token minted for the cluster's API" <<<"$line"
pk_check "token never logged" pk_no_leak "$api_tok"
pk_done
