# Sourced by the forwarder benchmarks: the HAProxy peer they all measure against (`mode tcp`, splice where it helps).
# haproxy_config <file> <name>:<listen port>:<server port>...   (all on 127.0.0.1)
haproxy_config() {
  local file=$1 spec name listen server
  shift
  {
    cat <<CFG
global
  maxconn 4000
defaults
  mode tcp
  option splice-auto
  timeout connect 5s
  timeout client 120s
  timeout server 120s
CFG
    for spec in "$@"; do
      IFS=: read -r name listen server <<<"$spec"
      printf 'listen %s\n  bind 127.0.0.1:%s\n  server s 127.0.0.1:%s\n' "$name" "$listen" "$server"
    done
  } >"$file"
}
