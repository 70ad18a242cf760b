-- Nothing to do in this version.
/* Still a valid migration. */
