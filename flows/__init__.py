"""mvflow's Prefect flows (`mvflow.flows`): the music_video DAG, batches, and what a request becomes."""
