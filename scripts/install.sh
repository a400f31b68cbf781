#!/usr/bin/env bash
# Install everything MailGoThai needs on a fresh Debian 12 machine, as root:
# the Debian packages (slapd, Dovecot, ...), a virtualenv in .venv, and the project.
# Safe to run again: it installs only what is missing and never starts system daemons.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (it installs Debian packages)" >&2
  exit 1
fi

PACKAGES=(slapd ldap-utils dovecot-imapd dovecot-lmtpd dovecot-ldap dovecot-sieve dovecot-managesieved python3 python3-venv python3-dev
          gcc libffi-dev ca-certificates swaks postgresql libmail-dkim-perl
          chromium chromium-driver fonts-thai-tlwg rspamd redis-server clamav-daemon)
EXTRA_PACKAGES=(${MAILGOTHAI_EXTRA_PACKAGES:-})

missing=()
for pkg in "${PACKAGES[@]}" "${EXTRA_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> installing Debian packages: ${missing[*]}"
  # The packages' postinst would start the system slapd (port 389) and Dovecot (143),
  # rspamd (11332-11334), Redis (6379), clamd and freshclam (which would try to download
  # signatures): this project runs its own instances, so forbid service starts during the
  # install. (Each postinst starts its daemon through invoke-rc.d or deb-systemd-invoke,
  # both of which obey policy-rc.d; freshclam's too.)
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PYTHON=$(command -v "$candidate"); break
    fi
  done
fi
if [ -z "$PYTHON" ]; then
  echo "install.sh: Python 3.11 not found" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
echo "==> installing the project into .venv"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
echo "==> compiling the admin web's translations"
.venv/bin/pybabel compile -d admin_ui/translations -D messages >/dev/null
echo "==> installed: $(.venv/bin/mailgothai --help >/dev/null && echo .venv/bin/mailgothai)"
