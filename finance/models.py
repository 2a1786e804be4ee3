"""The finance area keeps no rows of its own: it reads the other apps' rollups and ledgers."""
