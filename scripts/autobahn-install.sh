#!/usr/bin/env bash
# Installs Autobahn|Testsuite (wstest, Python 2.7 only) into a private prefix without touching the
# system: python2.7 comes from Debian bullseye packages unpacked with `dpkg -x`, pip 20.3.4 runs from
# its wheel, and the suite's dependencies are pinned to the last versions that still run on 2.7.
#
# Usage: scripts/autobahn-install.sh [PREFIX]   (default: .cache/autobahn)
# Prints nothing on success but the path of the `wstest` wrapper on its last line.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
prefix=${1:-$root/.cache/autobahn}
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
wstest="$prefix/bin/wstest"

if [ -x "$wstest" ] && "$wstest" --help >/dev/null 2>&1; then
  echo "$wstest"
  exit 0
fi

# The machine's own Debian mirror, from its apt sources (deb822 or one-line format).
mirror=$(grep -hE '^[[:space:]]*(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
  | grep -oE 'https?://[^ ]+/debian/?' | grep -v security | head -n 1 || true)
mirror=${mirror:-http://deb.debian.org/debian}
mirror=${mirror%/}

apt_dir="$prefix/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs" "$prefix/root"
echo "deb $mirror bullseye main" >"$apt_dir/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=-"
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
  -o "Dir::State::status=/dev/null" -o "APT::Get::List-Cleanup=0")
apt-get "${apt_opts[@]}" -qq update
(cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" -qq download \
  python2.7 python2.7-minimal libpython2.7-minimal libpython2.7-stdlib libpython2.7-dev \
  libssl1.1 libffi7)
for deb in "$apt_dir"/debs/*.deb; do dpkg -x "$deb" "$prefix/root"; done

py_root="$prefix/root"
libs="$py_root/usr/lib/x86_64-linux-gnu:$py_root/lib/x86_64-linux-gnu"
mkdir -p "$prefix/bin"
cat >"$prefix/bin/python2" <<PY
#!/usr/bin/env bash
export LD_LIBRARY_PATH="$libs\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export PYTHONHOME="$py_root/usr"
export PYTHONPATH="$prefix/site"
exec "$py_root/usr/bin/python2.7" "\$@"
PY
chmod +x "$prefix/bin/python2"
"$prefix/bin/python2" -c 'import sys; assert sys.version_info[:2] == (2, 7)'

# pip for 2.7, run straight from its wheel.
wheels="$prefix/wheels"
mkdir -p "$wheels" "$prefix/site"
python3 -m pip download -q --no-deps --only-binary=:all: -d "$wheels" pip==20.3.4
"$prefix/bin/python2" "$wheels/pip-20.3.4-py2.py3-none-any.whl/pip" install -q \
  --disable-pip-version-check --no-warn-script-location --no-cache-dir --target "$prefix/site" \
  "$wheels/pip-20.3.4-py2.py3-none-any.whl"
pip2=("$prefix/bin/python2" -m pip)

# Building the sdists below needs setuptools and wheel; these are their last Python 2 releases.
"${pip2[@]}" install -q --disable-pip-version-check --no-warn-script-location --no-cache-dir \
  --target "$prefix/site" setuptools==44.1.1 wheel==0.37.1

export CFLAGS="-I$py_root/usr/include -I$py_root/usr/include/python2.7 -I$py_root/usr/include/x86_64-linux-gnu/python2.7"
export LDFLAGS="-L$py_root/usr/lib/x86_64-linux-gnu"
"${pip2[@]}" install -q --disable-pip-version-check --no-warn-script-location --no-cache-dir \
  --target "$prefix/site" \
  autobahn==0.10.9 Twisted==19.10.0 txaio==2.1.0 zope.interface==4.6.0 Automat==20.2.0 attrs==21.4.0 \
  hyperlink==21.0.0 incremental==16.10.1 constantly==15.1.0 PyHamcrest==1.10.1 idna==2.10 \
  pyOpenSSL==19.1.0 cryptography==3.3.2 cffi==1.15.1 pycparser==2.21 service-identity==18.1.0 \
  pyasn1==0.5.1 pyasn1-modules==0.3.0 Jinja2==2.11.3 MarkupSafe==1.1.1 Werkzeug==1.0.1 klein==17.10.0 \
  six==1.16.0 wsaccel==0.6.6 ujson==2.0.3 enum34 ipaddress typing unittest2
"${pip2[@]}" install -q --disable-pip-version-check --no-warn-script-location --no-cache-dir \
  --no-deps --only-binary=:all: --target "$prefix/site" autobahntestsuite==25.10.1

# --target installs leave namespace packages (zope.*) to *-nspkg.pth files, which Python only
# reads in site directories: make the target one.
cat >"$prefix/site/sitecustomize.py" <<PY
import site
site.addsitedir("$prefix/site")
PY

cat >"$wstest" <<PY
#!/usr/bin/env bash
exec "$prefix/bin/python2" -m autobahntestsuite.wstest "\$@"
PY
chmod +x "$wstest"
"$wstest" --help >/dev/null
echo "$wstest"
