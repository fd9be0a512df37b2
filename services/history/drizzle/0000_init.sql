CREATE SCHEMA "history";
--> statement-breakpoint
CREATE TABLE "history"."conversations" (
	"id" uuid PRIMARY KEY NOT NULL,
	"applied_rev" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "history"."deleted_users" (
	"id" uuid PRIMARY KEY NOT NULL,
	"deleted_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "history"."deletions" (
	"message_id" uuid PRIMARY KEY NOT NULL,
	"conversation_id" uuid NOT NULL,
	"deleted_by" uuid,
	"deleted_at" timestamp with time zone NOT NULL,
	"rev" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "history"."members" (
	"conversation_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"state" text NOT NULL,
	"version_at" timestamp with time zone NOT NULL,
	CONSTRAINT "members_conversation_id_user_id_pk" PRIMARY KEY("conversation_id","user_id"),
	CONSTRAINT "members_state_ck" CHECK ("history"."members"."state" in ('active', 'muted', 'banned', 'removed'))
);
--> statement-breakpoint
CREATE TABLE "history"."messages" (
	"id" uuid PRIMARY KEY NOT NULL,
	"conversation_id" uuid NOT NULL,
	"sender_id" uuid,
	"rev" integer NOT NULL,
	"content" text NOT NULL,
	"snapshot" jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"deleted_at" timestamp with time zone,
	"search" "tsvector" GENERATED ALWAYS AS (to_tsvector('english'::regconfig, content)) STORED NOT NULL
);
--> statement-breakpoint
CREATE TABLE "history"."processed_events" (
	"consumer" text NOT NULL,
	"event_id" uuid NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "processed_events_consumer_event_id_pk" PRIMARY KEY("consumer","event_id")
);
--> statement-breakpoint
CREATE TABLE "history"."revisions" (
	"message_id" uuid NOT NULL,
	"rev" integer NOT NULL,
	"conversation_id" uuid NOT NULL,
	"content" text NOT NULL,
	"edited_at" timestamp with time zone NOT NULL,
	"editor_id" uuid NOT NULL,
	CONSTRAINT "revisions_message_id_rev_pk" PRIMARY KEY("message_id","rev")
);
--> statement-breakpoint
CREATE INDEX "members_user_idx" ON "history"."members" USING btree ("user_id","conversation_id") WHERE "history"."members"."state" in ('active', 'muted');--> statement-breakpoint
CREATE INDEX "messages_search_idx" ON "history"."messages" USING gin ("search");--> statement-breakpoint
CREATE INDEX "messages_conversation_idx" ON "history"."messages" USING btree ("conversation_id");--> statement-breakpoint
CREATE INDEX "messages_sender_idx" ON "history"."messages" USING btree ("sender_id");--> statement-breakpoint
CREATE INDEX "revisions_editor_idx" ON "history"."revisions" USING btree ("editor_id");