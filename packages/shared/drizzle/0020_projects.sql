CREATE TABLE "projects" (
	"id" text PRIMARY KEY NOT NULL,
	"alias" text NOT NULL,
	"dir" text NOT NULL,
	"target_kind" text NOT NULL,
	"agent_id" text,
	"host_id" text,
	"list_command" text,
	"targets" jsonb,
	"default_goal" text,
	"discovery_source" text,
	"discovered_at" timestamp with time zone,
	"discovery_job_id" text,
	"created_by" text,
	"owner_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "projects_machine_check" CHECK (("projects"."target_kind" = 'agent') = ("projects"."agent_id" is not null) and ("projects"."target_kind" = 'ssh') = ("projects"."host_id" is not null) and "projects"."target_kind" in ('local', 'agent', 'ssh'))
);
--> statement-breakpoint
ALTER TABLE "projects" ADD CONSTRAINT "projects_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "projects" ADD CONSTRAINT "projects_host_id_hosts_id_fk" FOREIGN KEY ("host_id") REFERENCES "public"."hosts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "projects_alias_idx" ON "projects" USING btree ("alias");--> statement-breakpoint
CREATE INDEX "projects_host_idx" ON "projects" USING btree ("host_id") WHERE "projects"."host_id" is not null;--> statement-breakpoint
CREATE INDEX "projects_agent_idx" ON "projects" USING btree ("agent_id") WHERE "projects"."agent_id" is not null;