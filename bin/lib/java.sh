# Sourced by bin/ scripts: sets JAVA_HOME to a JDK >= 25 and BATON_JVM_FLAGS.
# Reads the JDK's release file (cheap) and falls back to asking the JVM.
java_major() {
  local v=""
  [[ -f "$1/release" ]] && v="$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release")"
  [[ -n "$v" ]] || v="$("$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
  echo "$v"
}
pick_jdk() {
  local candidate
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25* /usr/lib/jvm/*; do
    [[ -n "$candidate" && -x "$candidate/bin/java" ]] || continue
    local major; major="$(java_major "$candidate")"
    if [[ "${major%%.*}" =~ ^[0-9]+$ ]] && (( ${major%%.*} >= 25 )); then
      echo "$candidate"; return 0
    fi
  done
  return 1
}
if ! JAVA_HOME="$(pick_jdk)"; then
  echo "baton: no JDK >= 25 found (set JAVA_HOME or install one under /usr/lib/jvm)" >&2
  exit 1
fi
export JAVA_HOME
export PATH="$JAVA_HOME/bin:$PATH"
BATON_JVM_FLAGS="--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC -Xss4m"
export BATON_JVM_FLAGS
# Maven's own Guava warns about sun.misc.Unsafe on new JDKs; that noise is not ours.
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
