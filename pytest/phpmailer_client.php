<?php
// phpmailer_client: PHPMailer (Debian's libphp-phpmailer) sending one message
// over SMTP with STARTTLS required, as its documentation shows.
//
//   php phpmailer_client.php HOST PORT CAFILE SERVERNAME TIMEOUT FROM TO
//
// The certificate is verified against CAFILE and SERVERNAME (PHP's stream
// options peer_name and cafile). Exit status 0 only when PHPMailer reports
// the message sent; otherwise one line on stderr and exit status 1.

require '/usr/share/php/libphp-phpmailer/autoload.php';

use PHPMailer\PHPMailer\PHPMailer;
use PHPMailer\PHPMailer\Exception;

if ($argc != 8) {
    fwrite(STDERR, "usage: phpmailer_client.php HOST PORT CAFILE SERVERNAME TIMEOUT FROM TO\n");
    exit(2);
}
[, $host, $port, $cafile, $servername, $timeout, $from, $to] = $argv;

$mail = new PHPMailer(true);
try {
    $mail->isSMTP();
    $mail->Host = $host;
    $mail->Port = (int)$port;
    $mail->SMTPAuth = false;
    $mail->SMTPSecure = PHPMailer::ENCRYPTION_STARTTLS;
    $mail->SMTPAutoTLS = true;
    // Timeout bounds connecting and each read's stream timeout; Timelimit
    // bounds the wait for a reply (300 s unless set).
    $mail->Timeout = (int)$timeout;
    $mail->getSMTPInstance()->Timelimit = (int)$timeout;
    $mail->Hostname = 'client.example.test';
    $mail->SMTPOptions = ['ssl' => [
        'verify_peer' => true,
        'verify_peer_name' => true,
        'peer_name' => $servername,
        'cafile' => $cafile,
        'allow_self_signed' => false,
    ]];
    $mail->setFrom($from);
    $mail->addAddress($to);
    $mail->Subject = 'starttls-mock suite';
    $mail->Body = "Sent by PHPMailer for the starttls-mock suite.\r\n";
    $mail->send();
    echo "sent\n";
    exit(0);
} catch (Exception $e) {
    fwrite(STDERR, 'phpmailer_client: ' . str_replace("\n", ' ', $mail->ErrorInfo) . "\n");
    exit(1);
}
