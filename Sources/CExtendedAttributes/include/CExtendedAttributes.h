// Extended attributes of files (fgetxattr, fsetxattr), which Swift's Glibc module does not export.
// BucketStore binds each object's metadata to its file with them.
#ifndef CHAINVAULT_EXTENDED_ATTRIBUTES_H
#define CHAINVAULT_EXTENDED_ATTRIBUTES_H
#include <sys/types.h>
#include <sys/xattr.h>
#endif
