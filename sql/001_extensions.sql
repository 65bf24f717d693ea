-- pgvector for posting and profession embeddings. On a managed server where the
-- role may not create extensions, an administrator runs this line once.
CREATE EXTENSION IF NOT EXISTS vector;
