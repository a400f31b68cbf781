# Into the relay's pickup directory (relay/sieve_pickup.py), without starting Python (a
# few small programs, ~8 ms, against ~27 ms for the Python client): the envelope as one
# JSON line {"user", "sender", "recipients"}, then the message, written in tmp/, fsynced,
# renamed into new/, new/ fsynced; the relay then takes it. The file's name is the queue
# id the relay gives it (microseconds and this process's id, in hex).
# Exit codes as sendmail's: 0 handed over, 75 try again later, 64 usage.
user= sender=
while [ $# -gt 0 ]; do
    case $1 in
        --user) user=${2-}; shift ;;
        -f) sender=${2-}; shift ;;
        -f*) sender=${1#-f} ;;
        --) shift; break ;;
        -*) ;;
        *) break ;;
    esac
    shift
done
sender=${sender#<}; sender=${sender%>}
if [ -z "$user" ] || [ $# -eq 0 ]; then
    echo "usage: sieve-sendmail --user USER [-f SENDER] -- RECIPIENT..." >&2
    exit 64
fi
json() {  # $1 as a JSON string's inside (addresses: only " and \ need it)
    case $1 in
        *[\"\\]*) printf '%s' "$1" | sed 's/[\\"]/\\&/g' ;;
        *) printf '%s' "$1" ;;
    esac
}
rcpts=
for value in "$@"; do
    rcpts="$rcpts${rcpts:+,}\"$(json "$value")\""
done
name=$(printf '%014x%08x' "$(date +%s%6N)" "$$") || exit 75
tmp="$pickup/tmp/$name"
umask 022
set -C  # a new file, never an existing one
if { printf '{"user":"%s","sender":"%s","recipients":[%s]}\n' "$(json "$user")" "$(json "$sender")" "$rcpts" \
        && cat; } >"$tmp" && sync "$tmp" && mv "$tmp" "$pickup/new/$name"; then
    # in new/ the relay will send it: a failure now must not make Dovecot deliver (and send) again
    sync "$pickup/new" || echo "sieve-sendmail: $pickup/new not synced" >&2
    exit 0
fi
rm -f "$tmp"
echo "sieve-sendmail: cannot write to the relay's pickup directory $pickup" >&2
exit 75
