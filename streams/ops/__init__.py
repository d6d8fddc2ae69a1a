"""Operations: metrics, health snapshots, the dashboard and `wirewatch status`."""
