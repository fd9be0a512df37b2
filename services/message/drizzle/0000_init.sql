CREATE SCHEMA "message";
--> statement-breakpoint
CREATE TABLE "message"."conversations" (
	"id" uuid PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"visibility" text NOT NULL,
	"status" text NOT NULL,
	"title" text,
	"version" timestamp with time zone NOT NULL,
	CONSTRAINT "conversations_status_ck" CHECK ("message"."conversations"."status" in ('open', 'closed', 'archived'))
);
--> statement-breakpoint
CREATE TABLE "message"."counters" (
	"conversation_id" uuid PRIMARY KEY NOT NULL,
	"seq" integer DEFAULT 0 NOT NULL,
	"rev" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "message"."markers" (
	"conversation_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"read_seq" integer DEFAULT 0 NOT NULL,
	"read_at" timestamp with time zone,
	"delivered_seq" integer DEFAULT 0 NOT NULL,
	"delivered_at" timestamp with time zone,
	CONSTRAINT "markers_conversation_id_user_id_pk" PRIMARY KEY("conversation_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "message"."members" (
	"conversation_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"role" text NOT NULL,
	"state" text NOT NULL,
	"synced_at" timestamp with time zone NOT NULL,
	CONSTRAINT "members_conversation_id_user_id_pk" PRIMARY KEY("conversation_id","user_id"),
	CONSTRAINT "members_state_ck" CHECK ("message"."members"."state" in ('active', 'muted', 'banned', 'removed'))
);
--> statement-breakpoint
CREATE TABLE "message"."messages" (
	"id" uuid PRIMARY KEY NOT NULL,
	"conversation_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"rev" integer NOT NULL,
	"sender_id" uuid,
	"client_message_id" uuid,
	"type" text NOT NULL,
	"content" text NOT NULL,
	"attachments" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"mentions" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"parent_id" uuid,
	"thread_root_id" uuid,
	"reply_count" integer DEFAULT 0 NOT NULL,
	"system" jsonb,
	"source_event_id" uuid,
	"created_at" timestamp with time zone NOT NULL,
	"edited_at" timestamp with time zone,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "messages_type_ck" CHECK ("message"."messages"."type" in ('text', 'image', 'file', 'system'))
);
--> statement-breakpoint
CREATE TABLE "message"."outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"event_id" uuid NOT NULL,
	"subject" text NOT NULL,
	"type" text NOT NULL,
	"payload" jsonb NOT NULL,
	"headers" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"published_at" timestamp with time zone,
	CONSTRAINT "outbox_event_id_unique" UNIQUE("event_id")
);
--> statement-breakpoint
CREATE TABLE "message"."processed_events" (
	"consumer" text NOT NULL,
	"event_id" uuid NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "processed_events_consumer_event_id_pk" PRIMARY KEY("consumer","event_id")
);
--> statement-breakpoint
CREATE TABLE "message"."users" (
	"id" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE INDEX "markers_user_idx" ON "message"."markers" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "members_user_idx" ON "message"."members" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "messages_conversation_seq_uq" ON "message"."messages" USING btree ("conversation_id","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "messages_conversation_rev_uq" ON "message"."messages" USING btree ("conversation_id","rev");--> statement-breakpoint
CREATE UNIQUE INDEX "messages_sender_client_id_uq" ON "message"."messages" USING btree ("sender_id","client_message_id") WHERE client_message_id IS NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "messages_source_event_uq" ON "message"."messages" USING btree ("source_event_id") WHERE source_event_id IS NOT NULL;--> statement-breakpoint
CREATE INDEX "messages_parent_idx" ON "message"."messages" USING btree ("parent_id") WHERE parent_id IS NOT NULL;--> statement-breakpoint
CREATE INDEX "messages_sender_idx" ON "message"."messages" USING btree ("sender_id","conversation_id");--> statement-breakpoint
CREATE INDEX "outbox_unpublished_idx" ON "message"."outbox" USING btree ("id") WHERE published_at IS NULL;