"""``genrep bench mllp`` (``mllp``) and ``genrep bench load`` (``load``): measured floors, each with
its baseline in the same run."""
