ALTER TABLE "agents" ADD COLUMN "enrolment_token_id" text;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "enrol_nonce_hash" text;