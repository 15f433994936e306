// The mailbox every session of a mail-reading protocol sees (IMAP's INBOX,
// POP3's maildrop): two plain-text messages, numbered and with UIDs 1 and
// 2, the same for every session, so that a client's download can be checked
// against it.
#ifndef STARTTLS_ENGINE_MAILBOX_H_
#define STARTTLS_ENGINE_MAILBOX_H_

#include <string_view>

namespace starttls::server {

struct MailboxMessage {
  std::string_view header;  // with the blank line that ends it
  std::string_view text;
  std::string_view internal_date;  // as IMAP's INTERNALDATE gives it
  std::string_view envelope;       // as IMAP's ENVELOPE gives it
};

inline constexpr MailboxMessage kInbox[] = {
    {"Date: Mon, 02 Feb 2026 10:00:00 +0000\r\n"
     "From: Alice <alice@example.test>\r\n"
     "To: Bob <bob@example.test>\r\n"
     "Subject: First message\r\n"
     "Message-ID: <1@starttls-mock.test>\r\n"
     "\r\n",
     "The first message in the starttls-mock INBOX.\r\n",
     "02-Feb-2026 10:00:00 +0000",
     "(\"Mon, 02 Feb 2026 10:00:00 +0000\" \"First message\" "
     "((\"Alice\" NIL \"alice\" \"example.test\")) "
     "((\"Alice\" NIL \"alice\" \"example.test\")) "
     "((\"Alice\" NIL \"alice\" \"example.test\")) "
     "((\"Bob\" NIL \"bob\" \"example.test\")) NIL NIL NIL "
     "\"<1@starttls-mock.test>\")"},
    {"Date: Tue, 03 Feb 2026 11:30:00 +0000\r\n"
     "From: Carol <carol@example.test>\r\n"
     "To: Bob <bob@example.test>\r\n"
     "Subject: Second message\r\n"
     "Message-ID: <2@starttls-mock.test>\r\n"
     "\r\n",
     "The second message in the starttls-mock INBOX.\r\n"
     "It has two lines.\r\n",
     "03-Feb-2026 11:30:00 +0000",
     "(\"Tue, 03 Feb 2026 11:30:00 +0000\" \"Second message\" "
     "((\"Carol\" NIL \"carol\" \"example.test\")) "
     "((\"Carol\" NIL \"carol\" \"example.test\")) "
     "((\"Carol\" NIL \"carol\" \"example.test\")) "
     "((\"Bob\" NIL \"bob\" \"example.test\")) NIL NIL NIL "
     "\"<2@starttls-mock.test>\")"},
};

}  // namespace starttls::server

#endif  // STARTTLS_ENGINE_MAILBOX_H_
