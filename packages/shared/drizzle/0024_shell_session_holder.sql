ALTER TABLE "shell_sessions" ADD COLUMN "holder_node" text;--> statement-breakpoint
ALTER TABLE "shell_sessions" ADD COLUMN "end_reason" text;--> statement-breakpoint
CREATE INDEX "shell_sessions_open_holder_idx" ON "shell_sessions" USING btree ("holder_node") WHERE ended_at is null and holder_node is not null;