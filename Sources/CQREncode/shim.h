// Debian's libqrencode (libqrencode-dev): the QR codes the portal draws for authenticator apps to scan.
#ifndef CHAINVAULT_CQRENCODE_H
#define CHAINVAULT_CQRENCODE_H
#include <qrencode.h>
#endif
