"""Operations: ``deteval serve``'s supervisor and its restart back-off, the embedded
Redis-protocol server, and the sweeper that resends lost jobs and removes old temp files.
"""
