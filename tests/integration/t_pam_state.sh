#!/bin/bash
# Tokens left on disk (issue 10.10).  The login state auth writes holds the
# token (sudo re-validation needs it, and sshd opens the session in another
# process than the one that authenticated):
#   - an auth-only transaction (pamtester authenticate; su or sudo with no
#     pam_k8s session line) leaves nothing: pam_end removes it;
#   - a transaction that dies between auth and session (an ssh client that
#     disconnects: sshd's processes exit without pam_end) leaves a file
#     that the next PAM call on the host, for any user, sweeps once the
#     processes that wrote it are gone (and any left older than 10 minutes;
#     sweeps run at most every 30 s);
#   - a session's state lives as long as the session, and goes at close.
# Private mount namespace (tests/pam/pamlib.sh).
. "$(dirname "$0")/../pam/pamlib.sh"
pk_begin pamtester
pk_write_config
pk_stack k8s-auth-only "auth required MOD CFG"
pk_stack k8s-full "auth required MOD CFG" "account required MOD CFG" "session required MOD CFG"
pk_stack k8s-acct "account sufficient MOD CFG" "account required pam_permit.so"
UID_A=7c1d2e52-8a7b-4c1d-9e2f-00000000000a
tok=$(pk_sa_token alice "$UID_A")
left() { ls -A "$T/run" 2>/dev/null | grep -c '^auth\.' ; }

pk_pam k8s-auth-only ops.alice authenticate <<<"$tok"
pk_check "auth-only transaction: accepted" test "$PK_RC" = 0
pk_check "auth-only transaction: no login state (no token) left after pam_end" test "$(left)" = 0
pk_check "the token is nowhere under the run directory" eval '! grep -rqF -- "${tok##*.}" "$T/run"'

pk_pam k8s-full ops.alice authenticate acct_mgmt open_session close_session <<<"$tok"
pk_check "full transaction: accepted, session opened and closed" test "$PK_RC" = 0
pk_check "full transaction: nothing left" test -z "$(pk_state_files "$T/run")"

# A transaction that ends without pam_end: libpam driven from Python, which
# exits right after pam_authenticate (as sshd's keyboard-interactive child
# does); its parent shell exits too (as sshd's monitor does when the client
# disconnects).
cat >"$T/noend.py" <<PY
import ctypes, os, sys
pam = ctypes.CDLL("libpam.so.0")
class Msg(ctypes.Structure): _fields_ = [("style", ctypes.c_int), ("msg", ctypes.c_char_p)]
class Resp(ctypes.Structure): _fields_ = [("resp", ctypes.c_void_p), ("retcode", ctypes.c_int)]
CONV = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.POINTER(Msg)),
                        ctypes.POINTER(ctypes.POINTER(Resp)), ctypes.c_void_p)
libc = ctypes.CDLL(None)
libc.calloc.restype = ctypes.c_void_p
libc.strdup.restype = ctypes.c_void_p
token = open(sys.argv[1]).read().strip().encode()
def conv(n, msgs, resp, data):
    r = libc.calloc(n, ctypes.sizeof(Resp))
    arr = ctypes.cast(r, ctypes.POINTER(Resp))
    for i in range(n):
        arr[i].resp = libc.strdup(token)
    resp[0] = arr
    return 0
class Conv(ctypes.Structure): _fields_ = [("conv", CONV), ("data", ctypes.c_void_p)]
c = Conv(CONV(conv), None)
h = ctypes.c_void_p()
assert pam.pam_start(b"k8s-auth-only", b"ops.alice", ctypes.byref(c), ctypes.byref(h)) == 0
rc = pam.pam_authenticate(h, 0)
print("rc", rc, flush=True)
os._exit(0)   # no pam_end
PY
printf '%s\n' "$tok" >"$T/tok"
out=$(sh -c "$PK_PY $T/noend.py $T/tok" 2>&1)
pk_check "a transaction without pam_end authenticated" grep -q "^rc 0" <<<"$out" || echo "$out"
pk_check "...and left its login state behind" test "$(left)" = 1
# sweeps run at most every 30 s (runDir/.gc is the last one): say the last
# was a minute ago
touch -d '1 minute ago' "$T/run/.gc"
pk_pam k8s-acct root acct_mgmt
pk_check "the next PAM call on the host (root's account step) sweeps it" test "$(left)" = 0
pk_pam k8s-auth-only ops.alice authenticate authenticate <<<"$tok"$'\n'"$tok"
pk_check "two auths in one handle: neither leaves its state" test "$(left)" = 0
pk_done
