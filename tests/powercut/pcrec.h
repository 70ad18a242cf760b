/*
 * pcrec.h: the record log of the power-cut simulator (powercut.c writes
 * it from inside the daemon, pcimage.c turns it into the disk a power cut
 * would leave).
 *
 * The log holds only what a sync made durable: the bytes of a file at the
 * moment it was fsynced (or written through O_DSYNC, or covered by a
 * syncfs), and the entries of a folder at the moment it was fsynced.
 * Every record is appended by one write(2) and carries a checksum, so a
 * record torn by the kill is where the log ends.
 *
 *	struct pcrec_hdr, then len bytes of payload:
 *	PCREC_DATA	struct pcrec_key, u64 offset, the bytes
 *	PCREC_ZERO	struct pcrec_key, u64 offset, u64 length (zeros)
 *	PCREC_SIZE	struct pcrec_key, u64 size
 *	PCREC_DIR	the folder's path under the root ("" for the root),
 *			NUL, then per entry: u8 type ('f' or 'd'),
 *			struct pcrec_key, the name, NUL
 */
#ifndef PCREC_H
#define PCREC_H

#include <stdint.h>

#define PCREC_MAGIC	0x70637574u	/* "pcut" */
#define PCREC_DATA	1
#define PCREC_ZERO	2
#define PCREC_SIZE	3
#define PCREC_DIR	4

/* A file: its inode number and birth time (inode numbers are reused). */
struct pcrec_key {
	uint64_t	ino;
	int64_t		bsec;
	uint32_t	bnsec;
	uint32_t	pad;
};

struct pcrec_hdr {
	uint32_t	magic;
	uint32_t	type;
	uint64_t	len;
	uint64_t	sum;	/* pcrec_sum of type and payload */
};

static inline uint64_t
pcrec_sum(uint32_t type, const void *p, uint64_t len)
{
	const unsigned char	*c = p;
	uint64_t		 h = 1469598103934665603ULL ^ type;

	while (len-- > 0)
		h = (h ^ *c++) * 1099511628211ULL;
	return (h);
}

#endif
