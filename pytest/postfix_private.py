"""What every private Postfix instance of this harness has in common: the
daemons of Debian's postfix package, none chrooted, and a main.cf that keeps
everything (configuration, queue, data, log) under one root directory, so
that no system mail configuration is read or touched.

Used by test_interop.py (a Postfix server) and postfix_client.py (Postfix's
smtp client as a client under test). MAIN_CF_COMMON is formatted with
{root} (the instance's directory) and {daemons} (DAEMONS)."""

DAEMONS = "/usr/lib/postfix/sbin"

# The unix-domain services a queue manager needs; callers add their inet
# listeners and delivery agents.
UNIX_SERVICES = """\
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
smtp      unix  - - n -  - smtp
relay     unix  - - n -  - smtp
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
tlsmgr    unix  - - n 1000? 1 tlsmgr
"""

MAIN_CF_COMMON = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
command_directory = /usr/sbin
daemon_directory = {daemons}
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
"""
