// The parts of glibc that Swift's Glibc module does not export:
// - extended attributes of files (fgetxattr, fsetxattr), with which BucketStore binds each object's
//   metadata to its file;
// - mallopt, with which `chainvault serve` keeps large buffers from piling up in per-thread heaps.
#ifndef CHAINVAULT_CPLATFORM_H
#define CHAINVAULT_CPLATFORM_H
#include <sys/types.h>
#include <sys/xattr.h>
#include <malloc.h>
#endif
