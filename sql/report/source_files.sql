-- Every published file read, with its checksum (the report's footer).
SELECT * FROM raw.source_files ORDER BY release_rank, source_file;
