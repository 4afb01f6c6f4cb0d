CREATE TABLE "job_attempts" (
	"job_id" text NOT NULL,
	"attempt" integer NOT NULL,
	"status" text NOT NULL,
	"exit_code" integer,
	"signal" text,
	"error_code" text,
	"error_message" text,
	"output_bytes" bigint DEFAULT 0 NOT NULL,
	"output_truncated" boolean DEFAULT false NOT NULL,
	"worker_id" text,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
	"retry_at" timestamp with time zone NOT NULL,
	CONSTRAINT "job_attempts_job_id_attempt_pk" PRIMARY KEY("job_id","attempt")
);
--> statement-breakpoint
ALTER TABLE "job_output" ADD COLUMN "attempt" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "job_output" DROP CONSTRAINT "job_output_job_id_seq_pk";--> statement-breakpoint
ALTER TABLE "job_output" ADD CONSTRAINT "job_output_job_id_attempt_seq_pk" PRIMARY KEY("job_id","attempt","seq");--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "retry" jsonb;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "retry_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "retry" jsonb;--> statement-breakpoint
CREATE INDEX "jobs_retry_due_idx" ON "jobs" USING btree ("retry_at","id") WHERE status = 'queued' and released_at is null and retry_at is not null;