# smtpcheck fact gathering: ONE remote command collects every fact the host controls need.
# POSIX sh (dash), GNU coreutils. Arguments: CAP RUN_PHP PHP_B64 PATH...
# Output: line records "key value"; every value that comes from the host is base64 (-w0), so
# no file name or content can break the framing. Nothing here is secret; the output is.
cap=$1; run_php=$2; php_b64=$3; shift 3
b64() { base64 -w0; echo; }
# A command's output without its final newline, keeping newlines inside it (link targets).
chomp() { out=$("$@"; echo .); out=${out%.}; printf '%s' "${out%?}"; }
echo "smtpcheck-facts 1"
printf 'hostname '; uname -n | tr -d '\n' | b64
printf 'user '; id -un 2>/dev/null | tr -d '\n' | b64
echo "uid $(id -u)"
for p in "$@"; do
  printf 'path '; printf '%s' "$p" | b64
  if [ -L "$p" ] || [ -e "$p" ]; then
    echo "lstat $(stat -c '%F|%a|%u|%g|%U|%G|%s' -- "$p" 2>/dev/null | base64 -w0)"
    if [ -L "$p" ]; then
      printf 'link '; chomp readlink -- "$p" | b64
      printf 'resolved '; chomp readlink -f -- "$p" | b64
      if [ -e "$p" ]; then
        echo "stat $(stat -L -c '%F|%a|%u|%g|%U|%G|%s' -- "$p" 2>/dev/null | base64 -w0)"
      fi
    fi
    if [ -f "$p" ] && [ -r "$p" ]; then
      printf 'content '; head -c "$cap" -- "$p" | b64
    elif [ -f "$p" ]; then
      echo "content-denied"
    fi
    if [ "$run_php" = 1 ] && [ -f "$p" ] && [ -r "$p" ]; then
      if command -v php >/dev/null 2>&1; then
        out=$(printf '%s' "$php_b64" | base64 -d | php -n -d extension=tokenizer \
              -d display_errors=stderr -d error_reporting=0 -d max_execution_time=5 \
              -d memory_limit=64M -- "$p" 2>/dev/null)
        echo "php-exit $?"
        printf 'php '; printf '%s' "$out" | b64
      else
        echo "php-absent"
      fi
    fi
  else
    echo "missing"
  fi
done
echo "end"
