# smtpcheck fact gathering: ONE remote command collects every fact the host controls need.
# POSIX sh (dash), GNU coreutils. Arguments: CAP PHP_B64 SERVER_USER PATH...
# A PATH prefixed "php:" is also read by PHP (Joomla's configuration.php); a PATH starting "~/"
# is probed under every toolkit home: /home/<name in /home/homedir.dat>, /home/SERVER_USER and
# each /home/X<18 letters or digits>X (how the toolkit names its server user).
# Output: line records "key value". A value from the host is base64 (-w0), so no file name or
# content can break the framing; a path or home made only of [A-Za-z0-9._/~:@+-] is printed as it
# is ("path-text", "home-text"), which needs no process; so are the hostname, `id` and stat lines
# made only of the characters such lines hold ("hostname-text", "id-text", "lstat-text"...).
# Forks cost the host CPU on every run: no value goes through a $(...) or a pipe that a builtin
# can replace (a shell function is a builtin). hostname, link and resolved keep the command's
# final newline (the parser drops it). Nothing here is secret; the output is.
# LC_ALL=C: stat's %F is translated otherwise ("reguläre Datei" under LANGUAGE=de, which sudo
# and PAM pass on), and [A-Za-z] below means ASCII letters only.
LC_ALL=C; export LC_ALL
cap=$1; php_b64=$2; server_user=$3; shift 3
echo "smtpcheck-facts 1"
record() {  # KEY VALUE CHARS: "KEY-text VALUE" when VALUE is made only of CHARS (a builtin: no
  # process), else "KEY <VALUE in base64>": no byte of a value can break the line framing
  case "$2" in
    ""|*[!$3]*) printf '%s ' "$1"; printf '%s' "$2" | base64 -w0; echo ;;
    *) echo "$1-text $2" ;;
  esac
}
host=""; read -r host 2>/dev/null </proc/sys/kernel/hostname
case "$host" in
  ""|*[!A-Za-z0-9._-]*) printf 'hostname '; uname -n | base64 -w0; echo ;;
  *) echo "hostname-text $host" ;;
esac
ident=$(id 2>/dev/null)  # uid=N(name) gid=...: the user and uid in one process
record id "$ident" 'A-Za-z0-9._=(), -'
homes=""
add_home() {
  # Only names a user name can have: no blanks or glob characters reach the "for h" below.
  case "$1" in ""|.|..|*[!A-Za-z0-9._-]*) return ;; esac
  case " $homes " in *" /home/$1 "*) return ;; esac
  [ -d "/home/$1" ] || return 0
  homes="$homes /home/$1"; echo "home-text /home/$1"
}
if [ -f /home/homedir.dat ] && [ -r /home/homedir.dat ]; then
  name=$(head -c 256 /home/homedir.dat | head -n 1 | tr -d '\r'); add_home "${name#/home/}"
fi
add_home "$server_user"
for d in /home/X*X; do
  name=${d#/home/}
  case "$name" in *[!A-Za-z0-9]*) continue ;; esac
  [ "${#name}" -eq 20 ] && add_home "$name"
done
STAT_CHARS='A-Za-z0-9._| -'  # what a stat line of plain names holds
probe() {
  p=$1; run_php=$2
  record path "$p" 'A-Za-z0-9._/~:@+-'
  if [ -L "$p" ] || [ -e "$p" ]; then
    record lstat "$(stat -c '%F|%a|%u|%g|%U|%G|%s' -- "$p" 2>/dev/null)" "$STAT_CHARS"
    if [ -L "$p" ]; then
      printf 'link '; readlink -- "$p" | base64 -w0; echo
      printf 'resolved '; readlink -f -- "$p" | base64 -w0; echo
      if [ -e "$p" ]; then
        record stat "$(stat -L -c '%F|%a|%u|%g|%U|%G|%s' -- "$p" 2>/dev/null)" "$STAT_CHARS"
      fi
    fi
    if [ -f "$p" ] && [ -r "$p" ]; then
      printf 'content '; head -c "$cap" -- "$p" | base64 -w0; echo
    elif [ -f "$p" ]; then
      echo "content-denied"
    fi
    if [ "$run_php" = 1 ] && [ -f "$p" ] && [ -r "$p" ]; then
      if command -v php >/dev/null 2>&1; then
        out=$(printf '%s' "$php_b64" | base64 -d | php -n -d extension=tokenizer \
              -d display_errors=stderr -d error_reporting=0 -d max_execution_time=5 \
              -d memory_limit=64M -- "$p" 2>/dev/null)
        echo "php-exit $?"
        printf 'php '; printf '%s' "$out" | base64 -w0; echo
      else
        echo "php-absent"
      fi
    fi
  else
    echo "missing"
  fi
}
for arg in "$@"; do
  run_php=0; case "$arg" in php:*) run_php=1; arg=${arg#php:} ;; esac
  case "$arg" in
    "~/"*) for h in $homes; do probe "$h/${arg#\~/}" "$run_php"; done ;;
    *) probe "$arg" "$run_php" ;;
  esac
done
echo "end"
