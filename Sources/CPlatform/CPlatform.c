// The header is all there is: this file gives the C target a source to build.
#include "CPlatform.h"
